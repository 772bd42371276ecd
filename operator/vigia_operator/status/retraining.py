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

from collections.abc import Mapping
from typing import Any, Final

from vigia_operator.core import reasons
from vigia_operator.core import resources as r
from vigia_operator.core.types import Condition, Event
from vigia_operator.decide.retraining.policy import Skip, Start, format_time
from vigia_operator.decide.retraining.result import RunResult
from vigia_operator.view.model import Model

Obj = dict[str, Any]
SECTION: Final = "retraining"
MAX_RUNS: Final = 10
ANNOTATION_APPROVE: Final = f"{r.GROUP}/approve-candidate"


def started(previous: Mapping[str, Any], start: Start, at: str,
            spec_uri: str) -> tuple[Obj, Event]:
    state = dict(previous)
    trigger = {"reason": start.trigger.reason, "at": at, "message": start.trigger.message}
    state.update(lastTrigger=trigger, job=start.job_name)
    state["lastSkip"] = None  # merge patch: null removes the field
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
                       ("nextScheduled", next_scheduled and format_time(next_scheduled)),
                       ("cooldownUntil", cooldown_until and format_time(cooldown_until))):
        if value:
            state[key] = value
        else:
            state[key] = None  # merge patch: null removes the field
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
