"""status.retraining (pure): the section's shape, its updates, and what the rollout reads.

    lastTrigger: {reason, at, message}     what started the latest Job, with the numbers
    lastSkip:    {reason, trigger, at, message}   the latest due trigger that did not start
    job:         name of the latest Job
    result:      {job, verdict, message, candidateUri, at}
    candidate:   {version, uri, digest, reportUri, htmlReportUri?, job, at, approved,
                  approvedBy, specUri}
    nextScheduled, cooldownUntil, schedule
    runs:        [{job, trigger, specUri, startedAt, finishedAt, verdict, message}], newest first,
                 at most MAX_RUNS

A candidate is approved at once with promote Auto; with Manual when the ModelDeployment
carries the annotation ``vigia.dev/approve-candidate: <candidate version>``.
``next_model`` is what the rollout reads: the approved candidate not yet in spec.model,
as long as spec.model is still the one that was current when its Job started (``specUri``):
a model the user sets afterwards wins over a candidate retrained from an older one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from vigia_operator.children.job import build_job
from vigia_operator.core import reasons
from vigia_operator.core import resources as r
from vigia_operator.core.clock import iso, parse_time
from vigia_operator.core.fields import SpecError
from vigia_operator.core.types import CONDITIONS, Condition, Event, Signals
from vigia_operator.decide.retraining.policy import (
    Monitoring,
    ObservedJob,
    Skip,
    Start,
    decide,
)
from vigia_operator.decide.retraining.result import RunResult, job_finished, read_result
from vigia_operator.status.conditions import find
from vigia_operator.status.sections import SectionUpdate
from vigia_operator.view import ModelDeploymentView
from vigia_operator.view.model import Model
from vigia_operator.view.policy import image_allowed
from vigia_operator.view.retraining import RetrainingSpec, parse_retraining

Obj = dict[str, Any]
SECTION: Final = "retraining"
MAX_RUNS: Final = 10
ANNOTATION_APPROVE: Final = f"{r.GROUP}/approve-candidate"
# A Job the operator just created may not be in the watch's index yet: not "gone" before this.
WATCH_GRACE_SECONDS: Final = 120
TRIGGER_TYPES: Final = (reasons.DRIFTED, reasons.ACCURACY_LOW)


@dataclass(frozen=True)
class RetrainingOutcome:
    """The retraining part of a reconcile: the section, its Events, and the Job to create."""

    update: SectionUpdate | None = None
    events: tuple[Event, ...] = ()
    job: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class RetrainingInput:
    """What the retraining decision looks at; all observed before anything is decided."""

    md: ModelDeploymentView  # the version being served or rolled out
    body: Mapping[str, Any]  # the ModelDeployment (spec.retraining, annotations, creation)
    status: Mapping[str, Any]  # with this reconcile's conditions merged in
    jobs: Mapping[str, Mapping[str, Any]]  # observed retraining Jobs by name
    job_pods: Mapping[str, Sequence[Mapping[str, Any]]]  # pods of finished Jobs, by Job
    signals: Signals | None
    now: datetime
    tick: bool
    allowed_images: Sequence[str] = field(default_factory=tuple)


def retraining_section(given: RetrainingInput) -> RetrainingOutcome:
    """Read a finished Job's result, approve a waiting candidate, and on the tick decide
    whether a trigger starts a Job (``policy.decide``): pure, the engine creates the Job."""
    try:
        spec = parse_retraining(given.body)
    except SpecError as error:
        return RetrainingOutcome(events=(Event(reasons.WARNING, reasons.INVALID_SPEC,
                                               str(error)),))
    previous = dict(given.status.get(SECTION) or {})
    if spec is None and not previous:
        return RetrainingOutcome()
    at = iso(given.now)
    auto = spec is not None and spec.promote == "Auto"
    state, events = _read_result(given, previous, at, auto)
    annotations = (given.body.get("metadata") or {}).get("annotations") or {}
    state, approved = approve(state, annotations, at)
    events += approved
    job = None
    if spec is not None and given.tick:
        state, decided, job = _decide(given, spec, state)
        events += decided
    found = condition(state)
    update = SectionUpdate(SECTION, state, () if found is None else (found,))
    return RetrainingOutcome(update, tuple(events), job)


def monitoring_of(signals: Signals | None,
                  conditions: Sequence[Mapping[str, Any]]) -> Monitoring:
    """The trigger conditions: the tick's own (a provider may hand them under
    ``CONDITIONS``), else those of this reconcile's status."""
    given = None if signals is None else signals.values.get(CONDITIONS)
    source = given if isinstance(given, list) else conditions
    found: dict[str, tuple[str, str]] = {}
    for type_ in TRIGGER_TYPES:
        cond = find(source, type_)
        if cond is not None:
            found[type_] = (str(cond.get("status")), str(cond.get("message", "")))
    return Monitoring(found, None if signals is None else signals.error)


def finished_job_awaiting_result(status: Mapping[str, Any],
                                 jobs: Mapping[str, Mapping[str, Any]]) -> str | None:
    """The Job whose pods the engine must read before deciding: finished, result not in."""
    state = status.get(SECTION) or {}
    name = state.get("job")
    if not name or (state.get("result") or {}).get("job") == name:
        return None
    job = jobs.get(name)
    return name if job is not None and job_finished(job) is not None else None


def _read_result(given: RetrainingInput, state: Obj, at: str,
                 auto: bool) -> tuple[Obj, list[Event]]:
    name = state.get("job")
    if not name or (state.get("result") or {}).get("job") == name:
        return state, []
    job = given.jobs.get(name)
    if job is None:
        started = parse_time((state.get("lastTrigger") or {}).get("at"))
        if started is not None and (given.now - started).total_seconds() < WATCH_GRACE_SECONDS:
            return state, []  # created just now: the watch has not delivered it yet
        return finished(state, name, RunResult(
            "Failed", f"Job {name} is gone before its result was read."), at, auto)
    if job_finished(job) is None:
        return state, []
    return finished(state, name, read_result(job, given.job_pods.get(name, ())), at, auto)


def _decide(given: RetrainingInput, spec: RetrainingSpec,
            state: Obj) -> tuple[Obj, list[Event], Obj | None]:
    now, md = given.now, given.md
    created = parse_time((given.body.get("metadata") or {}).get("creationTimestamp")) or now
    seen = [ObservedJob(name, parse_time((job.get("metadata") or {}).get("creationTimestamp"))
                        or now, job_finished(job) is not None)
            for name, job in given.jobs.items()]
    monitoring = monitoring_of(given.signals, list(given.status.get("conditions") or []))
    decision = decide(spec, state, monitoring, seen, md_name=md.name, created=created, now=now)
    events: list[Event] = []
    job: Obj | None = None
    action = decision.action
    if isinstance(action, Start):
        image = spec.job.image or md.serving.image
        if not image_allowed(image, given.allowed_images):
            action = Skip(action.trigger, reasons.IMAGE_NOT_ALLOWED,
                          f"spec.retraining.job.image {image!r} is not allowed by the "
                          "operator's configuration.")
        else:
            job = build_job(md, spec, action.job_name, action.trigger.reason)
            spec_uri = str(((given.body.get("spec") or {}).get("model") or {}).get("uri"))
            state, event = started(state, action, iso(now), spec_uri)
            events.append(event)
    if isinstance(action, Skip):
        state, skipped_events = skipped(state, action, iso(now))
        events += skipped_events
    elif action is None:  # the trigger is gone: its next return is a new skip to report
        state.pop("lastSkip", None)
    state = schedule_fields(state, spec.triggers.schedule, decision.next_scheduled,
                            decision.cooldown_until)
    return state, events, job


def started(previous: Mapping[str, Any], start: Start, at: str,
            spec_uri: str) -> tuple[Obj, Event]:
    state = dict(previous)
    trigger = {"reason": start.trigger.reason, "at": at, "message": start.trigger.message}
    state.update(lastTrigger=trigger, job=start.job_name)
    state.pop("lastSkip", None)
    run = {"job": start.job_name, "trigger": start.trigger.reason, "specUri": spec_uri,
           "startedAt": at}
    state["runs"] = [run, *(previous.get("runs") or [])][:MAX_RUNS]
    return state, Event(reasons.NORMAL, reasons.RETRAINING_STARTED,
                        f"Started Job {start.job_name}: {start.trigger.message}")


def skipped(previous: Mapping[str, Any], skip: Skip, at: str) -> tuple[Obj, list[Event]]:
    """The skip in status; an Event only when it is a new kind of skip (not every tick)."""
    state = dict(previous)
    before = previous.get("lastSkip") or {}
    state["lastSkip"] = {"reason": skip.reason, "trigger": skip.trigger.reason, "at": at,
                         "message": skip.message}
    if (before.get("reason"), before.get("trigger")) == (skip.reason, skip.trigger.reason):
        state["lastSkip"]["at"] = before.get("at", at)
        return state, []
    return state, [Event(reasons.NORMAL, reasons.RETRAINING_SKIPPED,
                         f"{skip.trigger.reason} trigger skipped ({skip.reason}): "
                         f"{skip.message} Trigger: {skip.trigger.message}")]


def finished(previous: Mapping[str, Any], job: str, result: RunResult, at: str,
             auto: bool) -> tuple[Obj, list[Event]]:
    state = dict(previous)
    state["result"] = {"job": job, "verdict": result.verdict, "message": result.message[:2000],
                       "at": at}
    runs = [dict(run) for run in previous.get("runs") or []]
    for run in runs:
        if run.get("job") == job:
            run.update(finishedAt=at, verdict=result.verdict, message=result.message[:500])
    state["runs"] = runs
    if result.candidate is None:
        reason = (reasons.CANDIDATE_REFUSED if result.verdict == "Refused"
                  else reasons.RETRAINING_FAILED)
        return state, [Event(reasons.WARNING, reason, f"Job {job}: {result.message}")]
    c = result.candidate
    state["result"]["candidateUri"] = c.uri
    spec_uri = next((run.get("specUri") for run in runs if run.get("job") == job), None)
    state["candidate"] = {"version": c.version, "uri": c.uri, "digest": c.digest,
                          "reportUri": c.report_uri, "job": job, "at": at,
                          "approved": auto, "approvedBy": "Auto" if auto else "",
                          "specUri": spec_uri}
    if c.html_report_uri is not None:
        state["candidate"]["htmlReportUri"] = c.html_report_uri
    events = [Event(reasons.NORMAL, reasons.CANDIDATE_ACCEPTED,
                    f"Job {job}: candidate {c.version} ({c.uri}) accepted: {result.message}")]
    if not auto:
        events.append(Event(reasons.NORMAL, reasons.CANDIDATE_AWAITING_APPROVAL,
                            f"Candidate {c.version} waits for approval: annotate the "
                            f"ModelDeployment {ANNOTATION_APPROVE}={c.version}."))
    return state, events


def approve(previous: Mapping[str, Any], annotations: Mapping[str, str],
            at: str) -> tuple[Obj, list[Event]]:
    """A waiting candidate is approved by the annotation naming its version."""
    candidate = previous.get("candidate") or {}
    if not candidate or candidate.get("approved"):
        return dict(previous), []
    if annotations.get(ANNOTATION_APPROVE) != candidate.get("version"):
        return dict(previous), []
    state = dict(previous)
    state["candidate"] = {**candidate, "approved": True, "approvedBy": ANNOTATION_APPROVE,
                          "approvedAt": at}
    return state, [Event(reasons.NORMAL, reasons.CANDIDATE_APPROVED,
                         f"Candidate {candidate.get('version')} approved by the annotation "
                         f"{ANNOTATION_APPROVE}.")]


def schedule_fields(state: Obj, schedule: str | None, next_scheduled: Any,
                    cooldown_until: Any) -> Obj:
    for key, value in (("schedule", schedule),
                       ("nextScheduled", next_scheduled and iso(next_scheduled)),
                       ("cooldownUntil", cooldown_until and iso(cooldown_until))):
        if value:
            state[key] = value
        else:
            state.pop(key, None)
    return state


def next_model(status: Mapping[str, Any], current: Model) -> Model | None:
    """The approved candidate, when it is not the spec's model already and the spec's
    model is the one its Job started under: what the rollout (canary) should roll out
    next. None: spec.model is the target."""
    candidate = (status.get(SECTION) or {}).get("candidate") or {}
    if not candidate.get("approved") or candidate.get("uri") == current.uri:
        return None
    spec_uri = candidate.get("specUri")  # unknown for a Job started before it was recorded
    if spec_uri is not None and spec_uri != current.uri:
        return None
    return Model(uri=str(candidate["uri"]), digest=candidate.get("digest"),
                 version=str(candidate["version"]))


def condition(state: Mapping[str, Any]) -> Condition | None:
    """The Retraining condition: True while a Job runs; False once its result is in, with
    the result's reason and numbers. None before any retraining."""
    job, result = state.get("job"), state.get("result") or {}
    if job and result.get("job") != job:
        trigger = state.get("lastTrigger") or {}
        return Condition(reasons.RETRAINING, "True", reasons.RETRAINING_STARTED,
                         f"Job {job} running since {trigger.get('at')}: "
                         f"{trigger.get('message', '')}"[:1000])
    if not result:
        return None
    candidate = state.get("candidate") or {}
    verdict = result.get("verdict")
    if verdict == "Accepted" and candidate and not candidate.get("approved"):
        reason = reasons.CANDIDATE_AWAITING_APPROVAL
    else:
        reason = {"Accepted": reasons.CANDIDATE_ACCEPTED,
                  "Refused": reasons.CANDIDATE_REFUSED}.get(str(verdict),
                                                            reasons.RETRAINING_FAILED)
    return Condition(reasons.RETRAINING, "False", reason,
                     f"Job {result.get('job')}: {result.get('message', '')}"[:1000])
