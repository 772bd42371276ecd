"""Status sections as dataclasses: camelCase JSON both ways, lenient on what it reads."""

from __future__ import annotations

from vigia_operator.core.records import from_json, to_json
from vigia_operator.decide.monitoring import (
    DriftStatus,
    KPIStatus,
    MonitoringStatus,
    Samples,
)
from vigia_operator.decide.retraining.state import RetrainingStatus, RunRecord


def test_a_section_round_trips_through_its_json() -> None:
    status = MonitoringStatus(
        state="Degraded", evaluated_at="2026-12-07T10:00:00Z", samples=Samples(900, 300),
        drift=DriftStatus("PSI", 0.2, features=("oven",), scores={"oven": 0.7}, score=0.7),
        kpis=(KPIStatus("scrap", max=0.05, value=0.01, violated=False),))
    written = to_json(status)
    assert written["evaluatedAt"] == "2026-12-07T10:00:00Z"
    assert written["drift"]["features"] == ["oven"] and "belowMin" not in written
    assert "confidence" not in written  # None fields are not written
    assert from_json(MonitoringStatus, written) == status


def test_unreadable_records_are_left_out_never_raised() -> None:
    assert from_json(RunRecord, "not a record") is None
    assert from_json(RunRecord, {"trigger": "Drift"}) is None  # its job is missing
    read = RetrainingStatus.from_status(
        {"job": "j", "runs": [{"job": "j", "startedAt": "t"}, {"nope": 1}, 3]})
    assert read.runs == (RunRecord(job="j", started_at="t"),)
    assert RetrainingStatus.from_status(None) == RetrainingStatus()
