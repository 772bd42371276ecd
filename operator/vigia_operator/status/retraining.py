"""status.retraining (pure), its one owner: the retraining step of a reconcile and the
updates of the section (``decide.retraining.state.RetrainingStatus``).

A candidate is approved at once with promote Auto; with Manual when the ModelDeployment
carries the annotation ``vigia.dev/approve-candidate: <candidate version>``.
``next_model`` is what the rollout reads: the approved candidate not yet in spec.model,
as long as spec.model is still the one that was current when its Job started (``specUri``):
a model the user sets afterwards wins over a candidate retrained from an older one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Final

from vigia_operator.children.job import build_job
from vigia_operator.core import reasons
from vigia_operator.core import resources as r
from vigia_operator.core.clock import iso, parse_time
from vigia_operator.core.fields import SpecError
from vigia_operator.core.text import one_sentence
from vigia_operator.core.types import CONDITIONS, Condition, Event, Signals
from vigia_operator.decide.retraining.policy import (
    TRIGGER_CONDITIONS,
    Monitoring,
    ObservedJob,
    Skip,
    Start,
    allowed_triggers,
    decide,
    next_version,
)
from vigia_operator.decide.retraining.result import (
    RunResult,
    job_finished,
    read_result,
    sentence,
)
from vigia_operator.decide.retraining.state import (
    MAX_RUNS,
    CandidateRecord,
    ResultRecord,
    RetrainingStatus,
    RunRecord,
    SkipRecord,
    TriggerRecord,
)
from vigia_operator.status.conditions import find
from vigia_operator.status.sections import SectionUpdate
from vigia_operator.view import ModelDeploymentView
from vigia_operator.view.model import Model
from vigia_operator.view.policy import image_allowed
from vigia_operator.view.retraining import RetrainingSpec, parse_retraining

Obj = dict[str, Any]
SECTION: Final = "retraining"
ANNOTATION_APPROVE: Final = f"{r.GROUP}/approve-candidate"
# A Job the operator just created may not be in the watch's index yet: not "gone" before this.
WATCH_GRACE_SECONDS: Final = 120
TRIGGER_TYPES: Final = tuple(type_ for type_, _ in TRIGGER_CONDITIONS)
# Skips only a spec change ends: a Warning Event and the Retraining condition say so.
REFUSED_SKIPS: Final = frozenset({reasons.SKIP_NO_DURABLE_STORE})
NO_DURABLE_STORE: Final = (
    "spec.retraining.includeFeedback needs spec.serving.predictionLog.storeSecretRef: the "
    "default SQLite is in the server pod, out of the Job's reach; or set includeFeedback: false"
)


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
        return invalid(given.status, error)
    return retraining_section_of(given, spec)


def retraining_section_of(given: RetrainingInput,
                          spec: RetrainingSpec | None) -> RetrainingOutcome:
    """``retraining_section`` with spec.retraining parsed already (the engine's, once per
    generation)."""
    section = given.status.get(SECTION)
    if spec is None and not section:
        return RetrainingOutcome()
    state = RetrainingStatus.from_status(section)
    at = iso(given.now)
    auto = spec is not None and spec.promote == "Auto"
    state, events = _read_result(given, state, at, auto)
    annotations = (given.body.get("metadata") or {}).get("annotations") or {}
    state, approved = approve(state, annotations, at)
    events += approved
    job = None
    if spec is not None and given.tick:
        state, decided, job = _decide(given, spec, state)
        events += decided
    found = condition(state)
    update = SectionUpdate(SECTION, state.to_status(), () if found is None else (found,))
    return RetrainingOutcome(update, tuple(events), job)


def invalid(status: Mapping[str, Any], error: SpecError) -> RetrainingOutcome:
    """spec.retraining cannot be acted on: the Retraining condition says which field and
    why (serving and monitoring go on), and an Event says it once, not on every tick."""
    refused = Condition(reasons.RETRAINING, "False", reasons.INVALID_SPEC, str(error)[:1000])
    before = find(list(status.get("conditions") or []), reasons.RETRAINING)
    said = before is not None and (before.get("reason"), before.get("message")) == (
        refused.reason, refused.message)
    events = () if said else (Event(reasons.WARNING, reasons.INVALID_SPEC, refused.message),)
    return RetrainingOutcome(SectionUpdate(SECTION, None, (refused,)), events)


def answered_conditions(body: Mapping[str, Any]) -> frozenset[str]:
    """The condition types a retraining trigger of ``body`` answers: the operator acts on
    them by itself, so their Events are Normal (a spec it cannot read answers nothing)."""
    try:
        spec = parse_retraining(body)
    except SpecError:
        return frozenset()
    return answered_by(spec)


def answered_by(spec: RetrainingSpec | None) -> frozenset[str]:
    """``answered_conditions`` of a parsed spec.retraining."""
    if spec is None:
        return frozenset()
    allowed = allowed_triggers(spec)
    answered = {type_ for type_, trigger in TRIGGER_CONDITIONS if allowed[trigger]}
    if reasons.DRIFTED in answered:
        # The model's confidence moves with its inputs: the retraining that answers their
        # drift answers the shift it causes (the closed loop's drifted day shows both).
        answered.add(reasons.CONFIDENCE_SHIFT)
    return frozenset(answered)


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
    state = RetrainingStatus.from_status(status.get(SECTION))
    job = jobs.get(state.job or "")
    if not state.awaiting_result or job is None or job_finished(job) is None:
        return None
    return state.job


def _read_result(given: RetrainingInput, state: RetrainingStatus, at: str,
                 auto: bool) -> tuple[RetrainingStatus, list[Event]]:
    name = state.job
    if name is None or not state.awaiting_result:
        return state, []
    job = given.jobs.get(name)
    if job is None:
        started_at = parse_time(state.last_trigger and state.last_trigger.at)
        if started_at is not None and (
                given.now - started_at).total_seconds() < WATCH_GRACE_SECONDS:
            return state, []  # created just now: the watch has not delivered it yet
        return finished(state, name, RunResult(
            "Failed", f"Job {name} is gone before its result was read."), at, auto)
    if job_finished(job) is None:
        return state, []
    return finished(state, name, read_result(job, given.job_pods.get(name, ())), at, auto)


def _decide(given: RetrainingInput, spec: RetrainingSpec,
            state: RetrainingStatus) -> tuple[RetrainingStatus, list[Event], Obj | None]:
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
                          "operator's configuration.", f"image {image!r} not allowed")
        elif spec.include_feedback and md.serving.store is None:
            action = Skip(action.trigger, reasons.SKIP_NO_DURABLE_STORE, NO_DURABLE_STORE,
                          "no durable prediction log (spec.serving.predictionLog.storeSecretRef)")
        else:
            version = next_version(md.model.version, state.versions | _history(given.status))
            job = build_job(md, spec, action.job_name, action.trigger.reason, version)
            spec_uri = str(((given.body.get("spec") or {}).get("model") or {}).get("uri"))
            state, event = started(state, action, iso(now), spec_uri, version)
            events.append(event)
    if isinstance(action, Skip):
        state, skipped_events = skipped(state, action, iso(now))
        events += skipped_events
    elif action is None:  # the trigger is gone: its next return is a new skip to report
        state = replace(state, last_skip=None)
    state = replace(state, schedule=spec.triggers.schedule,
                    next_scheduled=_iso_or_none(decision.next_scheduled),
                    cooldown_until=_iso_or_none(decision.cooldown_until))
    return state, events, job


def _history(status: Mapping[str, Any]) -> set[str]:
    """The versions status names: stable, a canary in flight, the rollout's history."""
    sections = [status.get("stable"), status.get("canary"), *(status.get("history") or [])]
    return {str(s["version"]) for s in sections if isinstance(s, Mapping) and s.get("version")}


def _iso_or_none(at: datetime | None) -> str | None:
    return None if at is None else iso(at)


def started(previous: RetrainingStatus, start: Start, at: str, spec_uri: str,
            version: str | None = None) -> tuple[RetrainingStatus, Event]:
    run = RunRecord(job=start.job_name, trigger=start.trigger.reason, started_at=at,
                    spec_uri=spec_uri, version=version)
    state = replace(
        previous, job=start.job_name, last_skip=None,
        last_trigger=TriggerRecord(start.trigger.reason, at, start.trigger.message),
        runs=(run, *previous.runs)[:MAX_RUNS])
    candidate = f" for candidate version {version}" if version else ""
    return state, Event(reasons.NORMAL, reasons.RETRAINING_STARTED, one_sentence(
        f"Started Job {start.job_name}{candidate}: {start.trigger.message}"))


def skipped(previous: RetrainingStatus, skip: Skip,
            at: str) -> tuple[RetrainingStatus, list[Event]]:
    """The skip in status; an Event only when it is a new kind of skip (not every tick)."""
    before = previous.last_skip
    same = before is not None and (before.reason, before.trigger) == (
        skip.reason, skip.trigger.reason)
    # The record keeps the whole text; the Event says the skip and its trigger in one sentence.
    record = SkipRecord(skip.reason, skip.trigger.reason, before.at if before and same else at,
                        f"{skip.message} Trigger: {skip.trigger.message}")
    state = replace(previous, last_skip=record)
    if same:
        return state, []
    # Skips that wait for time are routine; one that waits for a spec change is a Warning.
    refused = skip.reason in REFUSED_SKIPS
    said = "refused" if refused else "skipped"
    return state, [Event(reasons.WARNING if refused else reasons.NORMAL,
                         reasons.RETRAINING_SKIPPED, one_sentence(
        f"{skip.trigger.reason} trigger {said} ({skip.reason}: "
        f"{skip.summary or skip.message.rstrip('.')}): "
        f"{skip.trigger.message}"))]


def finished(previous: RetrainingStatus, job: str, result: RunResult, at: str,
             auto: bool) -> tuple[RetrainingStatus, list[Event]]:
    runs = tuple(replace(run, finished_at=at, verdict=result.verdict,
                         message=result.message[:500]) if run.job == job else run
                 for run in previous.runs)
    c = result.candidate
    outcome = ResultRecord(job, result.verdict, result.message[:2000], at,
                           candidate_uri=None if c is None else c.uri, metrics=result.metrics)
    state = replace(previous, result=outcome, runs=runs)
    if c is None:
        reason = (reasons.CANDIDATE_REFUSED if result.verdict == "Refused"
                  else reasons.RETRAINING_FAILED)
        return state, [Event(reasons.WARNING, reason, result_sentence(outcome))]
    spec_uri = next((run.spec_uri for run in runs if run.job == job), None)
    candidate = CandidateRecord(
        version=c.version, uri=c.uri, digest=c.digest, report_uri=c.report_uri, job=job,
        at=at, approved=auto, approved_by="Auto" if auto else "", spec_uri=spec_uri,
        html_report_uri=c.html_report_uri)
    events = [Event(reasons.NORMAL, reasons.CANDIDATE_ACCEPTED,
                    result_sentence(outcome, c.version))]
    if not auto:
        events.append(Event(reasons.NORMAL, reasons.CANDIDATE_AWAITING_APPROVAL,
                            f"Candidate {c.version} waits for approval: annotate the "
                            f"ModelDeployment {ANNOTATION_APPROVE}={c.version}."))
    return replace(state, candidate=candidate), events


def result_sentence(result: ResultRecord, version: str | None = None) -> str:
    """What a Job's result says, in one sentence: "Candidate 2 accepted: 83.3% → 88.5% on
    3,900 recent labelled items; …". The Job, the URIs and the numbers are in status."""
    if result.verdict == "Accepted":
        said = f"Candidate {version} accepted: " if version else "Candidate accepted: "
    elif result.verdict == "Refused":
        said = "Candidate refused: "
    else:
        said = f"Job {result.job} failed: "
    return sentence(said + result.message)


def approve(previous: RetrainingStatus, annotations: Mapping[str, str],
            at: str) -> tuple[RetrainingStatus, list[Event]]:
    """A waiting candidate is approved by the annotation naming its version."""
    candidate = previous.candidate
    if candidate is None or candidate.approved:
        return previous, []
    if annotations.get(ANNOTATION_APPROVE) != candidate.version:
        return previous, []
    approved = replace(candidate, approved=True, approved_by=ANNOTATION_APPROVE,
                       approved_at=at)
    return replace(previous, candidate=approved), [Event(
        reasons.NORMAL, reasons.CANDIDATE_APPROVED,
        f"Candidate {candidate.version} approved by the annotation {ANNOTATION_APPROVE}.")]


def next_model(status: Mapping[str, Any], current: Model) -> Model | None:
    """The approved candidate, when it is not the spec's model already and the spec's
    model is the one its Job started under: what the rollout (canary) should roll out
    next. None: spec.model is the target."""
    candidate = RetrainingStatus.from_status(status.get(SECTION)).candidate
    if candidate is None or not candidate.approved or candidate.uri == current.uri:
        return None
    # Unknown for a Job started before it was recorded.
    if candidate.spec_uri is not None and candidate.spec_uri != current.uri:
        return None
    return Model(uri=candidate.uri, digest=candidate.digest, version=candidate.version)


def condition(state: RetrainingStatus) -> Condition | None:
    """The Retraining condition: True while a Job runs; False once its result is in, with
    the result's reason and numbers. None before any retraining."""
    if state.awaiting_result:
        # When it started and why, whole, are in status.retraining.lastTrigger.
        trigger = state.last_trigger
        why = "" if trigger is None else f", started on {trigger.message}"
        return Condition(reasons.RETRAINING, "True", reasons.RETRAINING_STARTED,
                         one_sentence(f"Job {state.job} running{why}"))
    skip = state.last_skip
    if skip is not None and skip.reason in REFUSED_SKIPS:
        return Condition(reasons.RETRAINING, "False", skip.reason, one_sentence(skip.message))
    result = state.result
    if result is None:
        return None
    candidate = state.candidate
    if result.verdict == "Accepted" and candidate is not None and not candidate.approved:
        reason = reasons.CANDIDATE_AWAITING_APPROVAL
    else:
        reason = {"Accepted": reasons.CANDIDATE_ACCEPTED,
                  "Refused": reasons.CANDIDATE_REFUSED}.get(result.verdict,
                                                            reasons.RETRAINING_FAILED)
    version = candidate.version if candidate and candidate.job == result.job else None
    return Condition(reasons.RETRAINING, "False", reason, result_sentence(result, version))
