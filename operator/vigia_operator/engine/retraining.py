"""The retraining step of a reconcile: read a finished Job's result, approve a waiting
candidate, and on the tick decide (``policy.decide``) and create the Job
(``build.retraining.build_job``). Returns the ``retraining`` section and its Events;
the engine's writer writes them with the rest of the status.

API calls: a Job create when one starts, one pod list when a Job has finished (its
result is then in status and never read again). Everything else is the store's.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from vigia_operator.children.job import build_job
from vigia_operator.core import reasons
from vigia_operator.core.config import OperatorSettings
from vigia_operator.core.types import Event
from vigia_operator.decide.retraining.policy import (
    Monitoring,
    ObservedJob,
    Skip,
    Start,
    decide,
    format_time,
    parse_time,
)
from vigia_operator.decide.retraining.result import RunResult, job_finished, read_result
from vigia_operator.kube.client import Kube, KubeError
from vigia_operator.status import conditions as c
from vigia_operator.status import retraining as rs
from vigia_operator.status.sections import SectionUpdate
from vigia_operator.view import ModelDeploymentView, SpecError
from vigia_operator.view.policy import image_allowed
from vigia_operator.view.retraining import RetrainingSpec, parse_retraining

Obj = dict[str, Any]
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
WATCH_GRACE_SECONDS = 120

logger = logging.getLogger(__name__)


def monitoring_of(signals: Any, conditions: list[Mapping[str, Any]]) -> Monitoring:
    """The trigger conditions: the tick's own (a provider may hand them in
    ``Signals.values["conditions"]``), else those the monitoring section wrote."""
    given = None if signals is None else (signals.values or {}).get("conditions")
    source = given if isinstance(given, list) else conditions
    found: dict[str, tuple[str, str]] = {}
    for type_, _ in (("Drifted", 0), ("AccuracyLow", 0)):
        cond = c.find(source, type_)
        if cond is not None:
            found[type_] = (str(cond.get("status")), str(cond.get("message", "")))
    unavailable = None if signals is None else signals.error
    return Monitoring(found, unavailable)


def observed_jobs(observed: Mapping[tuple[str, str], Mapping[str, Any]]) -> dict[str, Obj]:
    return {name: dict(body) for (kind, name), body in observed.items() if kind == "Job"}


class RetrainStep:
    def __init__(self, kube: Kube, settings: OperatorSettings) -> None:
        self.kube = kube
        self.settings = settings

    async def run(self, md: ModelDeploymentView, body: Mapping[str, Any],
                  observed: Mapping[tuple[str, str], Mapping[str, Any]],
                  previous_status: Mapping[str, Any], signals: Any,
                  *, tick: bool) -> tuple[SectionUpdate | None, list[Event]]:
        try:
            spec = parse_retraining(body)
        except SpecError as error:
            return None, [Event(reasons.WARNING, reasons.INVALID_SPEC, str(error))]
        previous = dict(previous_status.get(rs.SECTION) or {})
        if spec is None and not previous:
            return None, []
        now = datetime.now(UTC).replace(microsecond=0)
        at = format_time(now)
        jobs = observed_jobs(observed)
        state, events = await self._result(md, previous, jobs, at,
                                           auto=spec is not None and spec.promote == "Auto")
        annotations = (body.get("metadata") or {}).get("annotations") or {}
        state, approved = rs.approve(state, annotations, at)
        events += approved
        if spec is not None and tick:
            state, decided = await self._decide(md, spec, body, state, jobs, previous_status,
                                                signals, now)
            events += decided
        found = rs.condition(state)
        return SectionUpdate(rs.SECTION, state, () if found is None else (found,)), events

    async def _result(self, md: ModelDeploymentView, state: Obj, jobs: Mapping[str, Obj],
                      at: str, auto: bool) -> tuple[Obj, list[Event]]:
        name = state.get("job")
        if not name or (state.get("result") or {}).get("job") == name:
            return state, []
        job = jobs.get(name)
        if job is None:
            started = parse_time((state.get("lastTrigger") or {}).get("at"))
            now = parse_time(at)
            if started is not None and now is not None and (
                    now - started).total_seconds() < WATCH_GRACE_SECONDS:
                return state, []  # created just now: the watch has not delivered it yet
            return rs.finished(state, name, RunResult(
                "Failed", f"Job {name} is gone before its result was read."), at, auto)
        if job_finished(job) is None:
            return state, []
        pods = [p async for p in self.kube.list(
            "v1", "Pod", md.namespace, label_selector=f"{JOB_NAME_LABEL}={name}")]
        return rs.finished(state, name, read_result(job, pods), at, auto)

    async def _decide(self, md: ModelDeploymentView, spec: RetrainingSpec,
                      body: Mapping[str, Any], state: Obj, jobs: Mapping[str, Obj],
                      previous_status: Mapping[str, Any], signals: Any,
                      now: datetime) -> tuple[Obj, list[Event]]:
        created = parse_time((body.get("metadata") or {}).get("creationTimestamp")) or now
        seen = [ObservedJob(name, parse_time(
            (job.get("metadata") or {}).get("creationTimestamp")) or now,
            job_finished(job) is not None) for name, job in jobs.items()]
        monitoring = monitoring_of(signals, list(previous_status.get("conditions") or []))
        decision = decide(spec, state, monitoring, seen, md_name=md.name, created=created,
                          now=now)
        events: list[Event] = []
        action = decision.action
        if isinstance(action, Start):
            image = spec.job.image or md.serving.image
            if not image_allowed(image, self.settings.allowed_images):
                action = Skip(action.trigger, reasons.IMAGE_NOT_ALLOWED,
                              f"spec.retraining.job.image {image!r} is not allowed by the "
                              "operator's configuration.")
            else:
                await self._create(md, spec, action)
                spec_uri = str(((body.get("spec") or {}).get("model") or {}).get("uri"))
                state, event = rs.started(state, action, format_time(now), spec_uri)
                events.append(event)
        if isinstance(action, Skip):
            state, skipped = rs.skipped(state, action, format_time(now))
            events += skipped
        elif action is None:  # the trigger is gone: its next return is a new skip to report
            state["lastSkip"] = None  # merge patch: null removes the field
        state = rs.schedule_fields(state, spec.triggers.schedule, decision.next_scheduled,
                                   decision.cooldown_until)
        return state, events

    async def _create(self, md: ModelDeploymentView, spec: RetrainingSpec,
                      start: Start) -> None:
        job = build_job(md, spec, start.job_name, start.trigger.reason)
        try:
            await self.kube.create(job)
        except KubeError as error:
            if not error.already_exists:  # the same trigger's Job: created before
                raise
            logger.info(f"Job {start.job_name} exists already; not created twice.")
