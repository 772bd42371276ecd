"""When to start a retraining (pure): (spec.retraining, status.retraining, the monitoring
conditions, the observed Jobs, now) -> start a Job, skip (with the reason and the numbers),
or nothing.

Triggers, in order: Drifted, AccuracyLow, CostHigh, ConfidenceShift and
EstimatedAccuracyLow (when spec.retraining.triggers allows; from
the tick's ``Signals.values["conditions"]`` when the provider hands them, else from
status.conditions as the monitoring section wrote them), then the schedule, evaluated by
the operator itself on the tick (croniter; see docs/operator.md "Retraining"). Guards:
monitoring Unknown (Prometheus unavailable) never triggers; at most one Job at a time;
spec.retraining.cooldown since the last start. The Job's name is the trigger and its time
bucket, so the same trigger never creates two Jobs, even if a status write was lost.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from croniter import croniter

from vigia_operator.core import reasons
from vigia_operator.core.clock import iso, parse_time
from vigia_operator.decide.retraining.state import RetrainingStatus
from vigia_operator.view.retraining import RetrainingSpec

MAX_JOB_NAME: Final = 63  # the Job controller puts it in a label on its pods
MAX_LABEL: Final = 63  # a version is a label value on the servers' pods and series
TRIGGER_CONDITIONS: Final = (
    (reasons.DRIFTED, reasons.TRIGGER_DRIFT),
    (reasons.ACCURACY_LOW, reasons.TRIGGER_ACCURACY),
    (reasons.COST_HIGH, reasons.TRIGGER_COST),
    (reasons.CONFIDENCE_SHIFT, reasons.TRIGGER_CONFIDENCE),
    (reasons.ESTIMATED_ACCURACY_LOW, reasons.TRIGGER_ESTIMATED_ACCURACY),
)
_SHORT: Final = {reasons.TRIGGER_DRIFT: "drift", reasons.TRIGGER_ACCURACY: "accuracy",
                 reasons.TRIGGER_COST: "cost", reasons.TRIGGER_CONFIDENCE: "confidence",
                 reasons.TRIGGER_ESTIMATED_ACCURACY: "estimate",
                 reasons.TRIGGER_SCHEDULE: "schedule"}


@dataclass(frozen=True)
class Trigger:
    reason: str  # reasons.TRIGGER_*
    message: str  # the numbers behind it
    bucket: datetime  # with the reason, the idempotency key of the Job


@dataclass(frozen=True)
class Start:
    trigger: Trigger
    job_name: str


@dataclass(frozen=True)
class Skip:
    trigger: Trigger
    reason: str  # reasons.SKIP_*
    message: str  # why, whole (status.retraining.lastSkip)
    summary: str = ""  # the deciding numbers, a clause of the Event's one sentence


@dataclass(frozen=True)
class RetrainingDecision:
    action: Start | Skip | None
    next_scheduled: datetime | None
    cooldown_until: datetime | None


@dataclass(frozen=True)
class Monitoring:
    """The monitoring conditions the triggers read: type -> (status, message)."""

    conditions: Mapping[str, tuple[str, str]]
    unavailable: str | None = None  # why the signals could not be collected


@dataclass(frozen=True)
class ObservedJob:
    name: str
    created: datetime
    finished: bool



def next_version(current: str, used: Iterable[str]) -> str:
    """The version of the next candidate: short and monotonic. After whole-number versions,
    the next whole number above every one this model has had (1 -> 2 -> 3); after a named
    version, that name with a retraining count (``v1`` -> ``v1-r1`` -> ``v1-r2``)."""
    known = {current, *used}
    if current.isdigit():
        return str(max(int(v) for v in known if v.isdigit()) + 1)
    counts = [int(v.rpartition("-r")[2]) for v in known
              if v.rpartition("-r")[2].isdigit() and v.startswith(f"{current}-r")]
    suffix = f"-r{max(counts, default=0) + 1}"
    return current[: MAX_LABEL - len(suffix)].rstrip("-_.") + suffix


def job_name(md_name: str, trigger: Trigger) -> str:
    suffix = f"-{_SHORT[trigger.reason]}-{trigger.bucket.strftime('%Y%m%d%H%M')}"
    return md_name[: MAX_JOB_NAME - len(suffix)].rstrip("-.") + suffix


def bucket_of(now: datetime, length: timedelta) -> datetime:
    """The start of ``now``'s bucket of ``length`` since the epoch (a minute at least)."""
    seconds = max(60, int(length.total_seconds()))
    epoch = int(now.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, UTC)


def next_fire(schedule: str, after: datetime) -> datetime:
    found = croniter(schedule, after).get_next(datetime)
    assert isinstance(found, datetime)
    return found.astimezone(UTC)


def schedule_state(spec: RetrainingSpec, previous: RetrainingStatus, created: datetime,
                   now: datetime) -> tuple[Trigger | None, datetime | None]:
    """The schedule's due run (if any) and the next one. Runs missed while a Job ran or
    the operator was down are not made up: one run, then the next after now."""
    schedule = spec.triggers.schedule
    if schedule is None:
        return None, None
    recorded = previous.schedule == schedule
    planned = parse_time(previous.next_scheduled) if recorded else None
    if planned is None:
        # The first schedule counts from the ModelDeployment's creation; a changed one
        # from now, so a change never fires a run it did not plan.
        planned = next_fire(schedule, now if previous.schedule else created)
    if planned > now:
        return None, planned
    trigger = Trigger(reasons.TRIGGER_SCHEDULE,
                      f"schedule {schedule!r} was due at {iso(planned)}", planned)
    return trigger, next_fire(schedule, now)


def allowed_triggers(spec: RetrainingSpec) -> dict[str, bool]:
    """Which condition triggers spec.retraining.triggers turns on, by trigger name."""
    return {reasons.TRIGGER_DRIFT: spec.triggers.drift,
            reasons.TRIGGER_ACCURACY: spec.triggers.accuracy,
            reasons.TRIGGER_COST: spec.triggers.cost,
            reasons.TRIGGER_CONFIDENCE: spec.triggers.confidence_shift,
            reasons.TRIGGER_ESTIMATED_ACCURACY: spec.triggers.estimated_accuracy}


def condition_trigger(spec: RetrainingSpec, monitoring: Monitoring,
                      now: datetime) -> Trigger | Skip | None:
    allowed = allowed_triggers(spec)
    for type_, reason in TRIGGER_CONDITIONS:
        if not allowed[reason]:
            continue
        status, message = monitoring.conditions.get(type_, ("Unknown", ""))
        trigger = Trigger(reason, f"{type_}: {message}", bucket_of(now, spec.cooldown))
        if monitoring.unavailable is not None and status == "True":
            return Skip(trigger, reasons.SKIP_MONITORING_UNKNOWN,
                        f"{type_} was True but the signals are not current "
                        f"({monitoring.unavailable}); no retraining on stale data.",
                        "signals not current")
        if status == "True":
            return trigger
    return None


def decide(spec: RetrainingSpec, previous: RetrainingStatus, monitoring: Monitoring,
           jobs: Sequence[ObservedJob], *, md_name: str, created: datetime,
           now: datetime) -> RetrainingDecision:
    """What to do on this tick, and the schedule and cooldown to report."""
    last_start = max([j.created for j in jobs]
                     + [t for t in [parse_time(previous.last_trigger and previous.last_trigger.at)]
                        if t is not None], default=None)
    cooldown_until = None if last_start is None else last_start + spec.cooldown
    scheduled, next_scheduled = schedule_state(spec, previous, created, now)
    by_condition = condition_trigger(spec, monitoring, now)
    # Stale monitoring does not hold back a schedule that is due.
    found = by_condition if isinstance(by_condition, Trigger) else scheduled or by_condition
    if found is None or isinstance(found, Skip):
        return RetrainingDecision(found, next_scheduled, cooldown_until)
    active = [j.name for j in jobs if not j.finished]
    if cooldown_until is not None and now < cooldown_until:
        left = int((cooldown_until - now).total_seconds())
        cooldown = int(spec.cooldown.total_seconds())
        action: Start | Skip = Skip(
            found, reasons.SKIP_COOLDOWN,
            f"cooldown {cooldown}s since the last start at "
            f"{iso(last_start or now)}: {left}s left, until "
            f"{iso(cooldown_until)}.", f"{left}s of {cooldown}s left")
    elif active:  # a Job that outlives its cooldown
        action = Skip(found, reasons.SKIP_ACTIVE,
                      f"Job {active[0]} is still running; one retraining at a time.",
                      "one Job at a time")
    else:
        action = Start(found, job_name(md_name, found))
        cooldown_until = now + spec.cooldown
    return RetrainingDecision(action, next_scheduled, cooldown_until)
