from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from vigia_operator.core import reasons
from vigia_operator.core.clock import iso
from vigia_operator.decide.retraining.policy import (
    Monitoring,
    ObservedJob,
    Skip,
    Start,
    decide,
    job_name,
    next_version,
)
from vigia_operator.decide.retraining.state import RetrainingStatus
from vigia_operator.view import SpecError
from vigia_operator.view.retraining import (
    RetrainingSpec,
    Triggers,
    parse_cooldown,
    parse_retraining,
)

from tests.unit.operator.schema import defaulted_sample

NOW = datetime(2026, 11, 23, 19, 7, tzinfo=UTC)
CREATED = NOW - timedelta(days=2)
SPEC = RetrainingSpec(dataset_uri="file:///d.csv", target="y",
                      triggers=Triggers(drift=True, accuracy=True, schedule=None),
                      cooldown=timedelta(hours=6))
DRIFTED = Monitoring({"Drifted": ("True", "psi 0.31 > 0.2 on sugar_ratio"),
                      "AccuracyLow": ("False", "0.91 >= 0.85")})
CALM = Monitoring({"Drifted": ("False", "psi 0.03"), "AccuracyLow": ("False", "0.91")})


def _decide(spec: RetrainingSpec = SPEC, previous: dict[str, Any] | None = None,
            monitoring: Monitoring = DRIFTED, jobs: list[ObservedJob] | None = None,
            now: datetime = NOW) -> Any:
    return decide(spec, RetrainingStatus.from_status(previous or {}), monitoring, jobs or [],
                  md_name="sobaos",
                  created=CREATED, now=now)


def test_drift_starts_a_job_named_by_trigger_and_bucket() -> None:
    decision = _decide()
    assert isinstance(decision.action, Start)
    assert decision.action.trigger.reason == reasons.TRIGGER_DRIFT
    assert "psi 0.31" in decision.action.trigger.message
    assert decision.action.job_name == "sobaos-drift-202611231800"  # 6h bucket
    assert decision.cooldown_until == NOW + timedelta(hours=6)
    # The same trigger a moment later: the same Job (name), never a second one.
    later = _decide(now=NOW + timedelta(minutes=5))
    assert later.action.job_name == decision.action.job_name


def test_accuracy_low_triggers_unless_not_allowed() -> None:
    low = Monitoring({"Drifted": ("False", ""), "AccuracyLow": ("True", "0.71 < 0.85")})
    assert _decide(monitoring=low).action.trigger.reason == reasons.TRIGGER_ACCURACY
    off = replace(SPEC, triggers=Triggers(drift=True, accuracy=False))
    assert _decide(off, monitoring=low).action is None
    no_drift = replace(SPEC, triggers=Triggers(drift=False, accuracy=True))
    assert _decide(no_drift).action is None


def test_a_low_estimate_triggers_only_when_asked_for() -> None:
    """Labels late or never: EstimatedAccuracyLow starts a Job when
    spec.retraining.triggers.estimatedAccuracy is true (off by default)."""
    low = Monitoring({"Drifted": ("False", ""), "AccuracyLow": ("Unknown", "12 labels"),
                      "EstimatedAccuracyLow": ("True", "estimated accuracy 0.81 < 0.85")})
    assert _decide(monitoring=low).action is None
    on = replace(SPEC, triggers=Triggers(estimated_accuracy=True))
    action = _decide(on, monitoring=low).action
    assert isinstance(action, Start)
    assert action.trigger.reason == reasons.TRIGGER_ESTIMATED_ACCURACY
    assert action.trigger.message == "EstimatedAccuracyLow: estimated accuracy 0.81 < 0.85"
    assert action.job_name == "sobaos-estimate-202611231800"


def test_the_estimate_trigger_is_read_from_the_spec() -> None:
    body = {"spec": {"retraining": {"enabled": True, "dataset": {"uri": "s3://b/d.csv",
                                                                 "target": "y"},
                                    "triggers": {"estimatedAccuracy": True}}}}
    parsed = parse_retraining(body)
    assert parsed is not None and parsed.triggers.estimated_accuracy
    body["spec"]["retraining"]["triggers"] = {}
    parsed = parse_retraining(body)
    assert parsed is not None and not parsed.triggers.estimated_accuracy


def test_nothing_without_a_trigger() -> None:
    assert _decide(monitoring=CALM).action is None


def test_cooldown_skips_with_the_numbers() -> None:
    previous = {"lastTrigger": {"reason": "Drift", "at": iso(NOW - timedelta(hours=2))}}
    decision = _decide(previous=previous)
    assert isinstance(decision.action, Skip) and decision.action.reason == reasons.SKIP_COOLDOWN
    assert "14400s left" in decision.action.message and "21600s" in decision.action.message
    assert decision.cooldown_until == NOW + timedelta(hours=4)
    # Once the cooldown is over, the persisting drift starts the next Job.
    assert isinstance(_decide(previous=previous, now=NOW + timedelta(hours=4)).action, Start)


def test_cooldown_holds_from_the_newest_job_even_if_status_was_lost() -> None:
    jobs = [ObservedJob("sobaos-drift-x", NOW - timedelta(hours=1), finished=True)]
    decision = _decide(jobs=jobs)
    assert isinstance(decision.action, Skip) and decision.action.reason == reasons.SKIP_COOLDOWN


def test_one_job_at_a_time() -> None:
    jobs = [ObservedJob("sobaos-schedule-y", NOW - timedelta(hours=9), finished=False)]
    decision = _decide(jobs=jobs)
    assert isinstance(decision.action, Skip) and decision.action.reason == reasons.SKIP_ACTIVE
    assert "sobaos-schedule-y" in decision.action.message


def test_stale_monitoring_never_triggers() -> None:
    stale = Monitoring(DRIFTED.conditions, unavailable="Prometheus: connection refused")
    decision = _decide(monitoring=stale)
    assert isinstance(decision.action, Skip)
    assert decision.action.reason == reasons.SKIP_MONITORING_UNKNOWN
    assert "connection refused" in decision.action.message
    unknown = Monitoring({"Drifted": ("Unknown", "no data"), "AccuracyLow": ("Unknown", "")})
    assert _decide(monitoring=unknown).action is None


def test_schedule_due_since_creation_starts_then_plans_the_next() -> None:
    weekly = replace(SPEC, triggers=Triggers(schedule="0 3 * * 1"))  # Mondays 03:00
    decision = _decide(weekly, monitoring=CALM)
    assert isinstance(decision.action, Start)
    assert decision.action.trigger.reason == reasons.TRIGGER_SCHEDULE
    assert decision.action.job_name == "sobaos-schedule-202611230300"
    assert decision.next_scheduled == datetime(2026, 11, 30, 3, 0, tzinfo=UTC)


def test_schedule_not_due_reports_next_run() -> None:
    weekly = replace(SPEC, triggers=Triggers(schedule="0 3 * * 1"))
    previous = {"schedule": "0 3 * * 1", "nextScheduled": "2026-11-30T03:00:00Z"}
    decision = _decide(weekly, previous=previous, monitoring=CALM)
    assert decision.action is None
    assert decision.next_scheduled == datetime(2026, 11, 30, 3, 0, tzinfo=UTC)


def test_a_changed_schedule_is_planned_from_now() -> None:
    daily = replace(SPEC, triggers=Triggers(schedule="0 4 * * *"))
    previous = {"schedule": "0 3 * * 1", "nextScheduled": "2026-11-23T03:00:00Z"}
    decision = _decide(daily, previous=previous, monitoring=CALM)
    assert decision.action is None
    assert decision.next_scheduled == datetime(2026, 11, 24, 4, 0, tzinfo=UTC)


def test_job_names_fit_a_label() -> None:
    start = _decide().action
    long = job_name("m" * 80, start.trigger)
    assert len(long) <= 63 and long.endswith("-drift-202611231800")


def test_spec_is_read_with_the_crd_defaults() -> None:
    spec = parse_retraining(defaulted_sample())
    assert spec is not None
    assert spec.cooldown == timedelta(hours=6) and spec.promote == "Auto"
    assert spec.triggers.schedule == "0 3 * * 1"
    assert spec.gate.sensitive_features == ("shift",)
    assert parse_retraining(defaulted_sample(spec__retraining__enabled=False)) is None


def test_bad_spec_names_the_field() -> None:
    with pytest.raises(SpecError, match=r"spec\.retraining\.cooldown"):
        parse_cooldown("six hours")
    with pytest.raises(SpecError, match=r"spec\.retraining\.triggers\.schedule"):
        parse_retraining(defaulted_sample(spec__retraining__triggers={"schedule": "61 * * * *"}))
    assert parse_cooldown("1h30m") == timedelta(minutes=90)


@pytest.mark.parametrize(("current", "used", "expected"), [
    ("1", [], "2"),
    ("2", ["1", "3"], "4"),  # above every whole-number version the model has had
    ("1", ["inverted", "2"], "3"),
    ("v1", [], "v1-r1"),
    ("v1", ["v1-r1", "v1-r2"], "v1-r3"),
    ("x" * 63, [], "x" * 60 + "-r1"),  # still a label value
])
def test_the_next_candidate_version_is_short_and_monotonic(current: str, used: list[str],
                                                           expected: str) -> None:
    assert next_version(current, used) == expected


def test_cost_high_triggers_by_default_and_confidence_shift_when_asked() -> None:
    dear = Monitoring({"Drifted": ("False", ""), "AccuracyLow": ("False", ""),
                       "CostHigh": ("True", "expected cost 412 EUR per 1,000 cakes")})
    decision = _decide(monitoring=dear)
    assert decision.action.trigger.reason == reasons.TRIGGER_COST
    assert decision.action.job_name == "sobaos-cost-202611231800"
    assert "CostHigh: expected cost 412 EUR per 1,000 cakes" in decision.action.trigger.message
    assert _decide(replace(SPEC, triggers=Triggers(cost=False)), monitoring=dear).action is None
    shifted = Monitoring({"Drifted": ("False", ""), "AccuracyLow": ("False", ""),
                          "ConfidenceShift": ("True", "confidence down: ...")})
    assert _decide(monitoring=shifted).action is None  # off unless asked
    asked = replace(SPEC, triggers=Triggers(confidence_shift=True))
    found = _decide(asked, monitoring=shifted).action
    assert found.trigger.reason == reasons.TRIGGER_CONFIDENCE
    assert found.job_name == "sobaos-confidence-202611231800"
