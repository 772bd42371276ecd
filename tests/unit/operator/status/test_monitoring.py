"""The monitoring section: status.monitoring and its conditions from a tick's signals."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import jsonschema
import pytest
from vigia_operator.core import reasons
from vigia_operator.core.types import MONITORING, MONITORING_AT, Signals
from vigia_operator.decide.measurements import ModelSignals, TrackSignals
from vigia_operator.status.compose import compose
from vigia_operator.status.monitoring import (
    REFRESH_S,
    monitoring_section,
    refresh_after,
)
from vigia_operator.status.sections import SectionInput, SectionUpdate, StatusUpdate
from vigia_operator.view import SpecError, parse

from tests.unit.operator.schema import defaulted_sample, schema, undeclared

MD = parse(defaulted_sample())
AT = 1_800_000_000.0


NOW = datetime(2027, 1, 15, 8, 0, tzinfo=UTC)


def written(update: SectionUpdate) -> dict[str, Any]:
    """The section as the writer would write it."""
    assert isinstance(update.value, Mapping)
    return dict(update.value)


def monitoring_sections(given: SectionInput) -> tuple[SectionUpdate, ...]:
    """The section the tick writes, if any."""
    outcome = monitoring_section(given)
    return () if outcome.update is None else (outcome.update,)


def given(signals: Signals | None, previous: dict[str, object] | None = None) -> SectionInput:
    return SectionInput(md=MD, observed={}, previous={"monitoring": previous or {}},
                        signals=signals, now=NOW)


def drifted_signals() -> ModelSignals:
    track = TrackSignals(feature_psi={"oven_temperature": 0.7}, predictions=5000.0,
                         feedback=10.0, last_scrape=AT - 5)
    return ModelSignals(tracks={("stable", "1"): track})


def test_the_spec_reaches_the_view_with_the_crd_defaults() -> None:
    assert MD.monitoring.window == "1h" and MD.monitoring.drift_threshold == 0.2


def test_outside_a_tick_the_section_is_left_alone() -> None:
    assert monitoring_sections(given(None)) == ()


def test_a_tick_writes_the_section_and_conditions() -> None:
    signals = Signals("t", values={MONITORING: drifted_signals(), MONITORING_AT: AT})
    (update,) = monitoring_sections(given(signals))
    assert update.name == "monitoring" and update.value is not None
    assert written(update)["drift"]["features"] == ["oven_temperature"]
    conditions = {c.type: c for c in update.conditions}
    assert conditions[reasons.DRIFTED].status == "True"
    assert conditions[reasons.ACCURACY_LOW].reason == reasons.INSUFFICIENT_DATA
    assert "10 feedback labels" in conditions[reasons.ACCURACY_LOW].message


def test_a_failed_collection_is_unknown() -> None:
    signals = Signals("t", values={MONITORING_AT: AT}, error="connection refused")
    (update,) = monitoring_sections(given(signals, previous={"accuracy": 0.9}))
    assert {c.status for c in update.conditions} == {"Unknown"}
    assert update.value is not None and written(update)["accuracy"] == 0.9


def test_the_view_refuses_a_bad_monitoring_spec() -> None:
    body = defaulted_sample()
    body["spec"]["monitoring"]["window"] = "soon"
    with pytest.raises(SpecError) as caught:
        parse(body)
    assert caught.value.field == "spec.monitoring.window"


def full_signals() -> ModelSignals:
    track = TrackSignals(
        feature_rows={"oven_temperature": 900.0, "shift": 900.0},
        feature_psi={"oven_temperature": 0.7, "shift": 0.01},
        feature_jensen_shannon={"oven_temperature": 0.4, "shift": 0.02},
        predictions=900.0, prediction_shift=0.05, feedback=300.0, accuracy=0.5,
        confidence_mean=0.8, confidence_below={0.5: 0.0, 0.6: 0.1, 1.0: 1.0},
        last_scrape=AT - 5,
    )
    return ModelSignals(tracks={("stable", "1"): track}, kpis={"defects": 3.0},
                        kpi_errors={"broken": "bad_data: parse error"})


@pytest.mark.parametrize("case", ["measured", "unavailable", "no data"])
def test_the_section_is_what_the_crd_declares(case: str) -> None:
    # The API server refused every status write with a section of another shape (422),
    # so no monitoring condition ever appeared: hold the section to the CRD's schema.
    md = parse(defaulted_sample(spec__monitoring__kpis=[
        {"name": "defects", "query": "sum(x)", "max": 2.0},
        {"name": "broken", "query": "sum(", "min": 0.0},
    ]))
    measured = Signals("t", values={MONITORING: full_signals(), MONITORING_AT: AT})
    (first,) = monitoring_sections(SectionInput(md=md, observed={}, previous={},
                                                signals=measured, now=NOW))
    assert first.value is not None
    previous = {"monitoring": written(first)}
    signals = {
        "measured": measured,
        "unavailable": Signals("t", values={MONITORING_AT: AT}, error="connection refused"),
        "no data": Signals("t", values={MONITORING: ModelSignals(), MONITORING_AT: AT}),
    }[case]
    (update,) = monitoring_sections(SectionInput(md=md, observed={}, previous=previous,
                                                 signals=signals, now=NOW))
    section = {k: v for k, v in written(update).items() if v is not None}
    status_schema = schema()["properties"]["status"]
    node = status_schema["properties"]["monitoring"]
    assert undeclared(section, node, "status.monitoring") == []
    jsonschema.Draft4Validator(node).validate(section)
    assert {k["name"] for k in section["kpis"]} == {"defects", "broken"}


def test_recovery_after_an_outage_drops_the_outage_reason() -> None:
    down = Signals("t", values={MONITORING_AT: AT}, error="connection refused")
    (unknown,) = monitoring_sections(given(down, previous={"accuracy": 0.9}))
    assert unknown.value is not None and written(unknown)["reason"] == "PrometheusUnavailable"
    back = Signals("t", values={MONITORING: drifted_signals(), MONITORING_AT: AT})
    (known,) = monitoring_sections(given(back, previous=written(unknown)))
    assert known.value is not None
    assert not {"reason", "message", "checkedAt"} & set(known.value)
    assert written(known)["state"] == "Degraded"


def tick(previous: dict[str, Any], signals: ModelSignals, at: float,
         md: Any = MD) -> dict[str, Any] | None:
    """The status after one tick at ``at``, or None when the tick writes nothing."""
    values = {MONITORING: signals, MONITORING_AT: at}
    updates = monitoring_sections(SectionInput(md=md, observed={}, previous=previous,
                                               signals=Signals("t", values=values), now=NOW))
    if not updates:
        return None
    return compose(previous, StatusUpdate(updates, observed_generation=md.generation), "x")


def moved(signals: ModelSignals, at: float, **changes: object) -> ModelSignals:
    (track,) = signals.tracks.values()
    return ModelSignals(tracks={("stable", "1"): TrackSignals(
        **{**track.__dict__, "last_scrape": at - 5, **changes})})


def test_an_unchanged_verdict_is_rewritten_only_when_old() -> None:
    first = tick({}, drifted_signals(), AT)
    assert first is not None
    # New numbers, the same decision: nothing to write until the section is REFRESH_S old.
    later = moved(drifted_signals(), AT + 60, predictions=5100.0, feature_psi={
        "oven_temperature": 0.71})
    assert tick(first, later, AT + 60) is None
    assert tick(first, later, AT + REFRESH_S - 1) is None
    due = AT + refresh_after(MD.uid) + 1
    refreshed = tick(first, moved(drifted_signals(), due, predictions=5100.0), due)
    assert refreshed is not None
    assert refreshed["monitoring"]["evaluatedAt"] > first["monitoring"]["evaluatedAt"]


def test_first_traffic_and_a_count_doubled_or_halved_are_written_at_once() -> None:
    """Same decision, but the status would say 0 predictions, or half of what came, for
    up to 2 x REFRESH_S."""
    quiet = tick({}, moved(drifted_signals(), AT, predictions=0.0, feedback=0.0), AT)
    assert quiet is not None and quiet["monitoring"]["samples"]["predictions"] == 0
    busy = moved(drifted_signals(), AT + 60, predictions=40.0, feedback=0.0)
    first = tick(quiet, busy, AT + 60)
    assert first is not None and first["monitoring"]["samples"]["predictions"] == 40
    assert tick(first, moved(busy, AT + 120, predictions=79.0), AT + 120) is None
    doubled = tick(first, moved(busy, AT + 120, predictions=80.0), AT + 120)
    assert doubled is not None and doubled["monitoring"]["samples"]["predictions"] == 80
    halved = tick(doubled, moved(busy, AT + 180, predictions=40.0), AT + 180)
    assert halved is not None and halved["monitoring"]["samples"]["predictions"] == 40
    gone = tick(halved, moved(busy, AT + 240, predictions=0.0), AT + 240)
    assert gone is not None and gone["monitoring"]["samples"]["predictions"] == 0


def test_a_new_decision_is_written_on_the_tick_that_makes_it() -> None:
    first = tick({}, drifted_signals(), AT)
    assert first is not None
    calm = moved(drifted_signals(), AT + 60, feature_psi={"oven_temperature": 0.01})
    written = tick(first, calm, AT + 60)
    assert written is not None and written["monitoring"]["drift"]["features"] == []
    # Another feature drifting, the condition True all along: written too.
    more = moved(drifted_signals(), AT + 60, feature_psi={"oven_temperature": 0.7,
                                                          "shift": 0.5})
    written = tick(first, more, AT + 60)
    assert written is not None
    assert written["monitoring"]["drift"]["features"] == ["oven_temperature", "shift"]


def test_a_new_generation_is_written_at_once() -> None:
    first = tick({}, drifted_signals(), AT)
    assert first is not None
    newer = parse(defaulted_sample(metadata__generation=2))
    written = tick(first, drifted_signals(), AT + 60, md=newer)
    assert written is not None
    assert {c["observedGeneration"] for c in written["conditions"]} == {2}


def test_an_outage_is_written_once_then_left_until_old() -> None:
    first = tick({}, drifted_signals(), AT)
    assert first is not None
    down = Signals("t", values={MONITORING_AT: AT + 60}, error="connection refused")
    (update,) = monitoring_sections(SectionInput(md=MD, observed={}, previous=first,
                                                 signals=down, now=NOW))
    unknown = compose(first, StatusUpdate((update,), observed_generation=1), "x")
    still = Signals("t", values={MONITORING_AT: AT + 120}, error="connection refused")
    assert monitoring_sections(SectionInput(md=MD, observed={}, previous=unknown,
                                            signals=still, now=NOW)) == ()


def test_objects_evaluated_together_refresh_on_different_ticks() -> None:
    after = [refresh_after(f"uid-{n}") for n in range(1000)]
    assert all(REFRESH_S <= a < 2 * REFRESH_S for a in after)
    # Spread over the range: with a 60 s tick, no tick rewrites more than a third of them.
    by_tick = [sum(1 for a in after if t * 60 <= a - REFRESH_S < (t + 1) * 60)
               for t in range(5)]
    assert max(by_tick) < 1000 / 3, by_tick


def test_a_tick_that_did_not_evaluate_the_model_leaves_the_section_alone() -> None:
    not_due = Signals("t", values={"canary": {}})  # canary measurements only
    outcome = monitoring_section(given(not_due, previous={"accuracy": 0.9}))
    assert outcome.update is None and outcome.verdict is None
    due = monitoring_section(given(Signals("t", values={MONITORING: drifted_signals(),
                                                        MONITORING_AT: AT})))
    assert due.update is not None and due.verdict is not None


def test_the_section_judges_the_version_the_stable_deployment_serves() -> None:
    predecessor = TrackSignals(feature_psi={"oven_temperature": 1.01}, predictions=5000.0,
                               feedback=400.0, accuracy=0.848, last_scrape=AT - 5)
    promoted = TrackSignals(feature_psi={"oven_temperature": 0.01}, predictions=30.0,
                            feedback=3.0, accuracy=1.0, last_scrape=AT - 5)
    measured = ModelSignals(tracks={("stable", "0"): predecessor, ("stable", "1"): promoted})
    signals = Signals("t", values={MONITORING: measured, MONITORING_AT: AT})
    (update,) = monitoring_sections(given(signals))
    assert update.value is not None and written(update)["version"] == MD.model.version == "1"
    assert written(update)["state"] == "InsufficientData"
    assert written(update)["samples"] == {"predictions": 30, "feedback": 3}
    optional = (reasons.KPI_VIOLATED, reasons.PREDICTION_LOG_FAILING, reasons.COST_HIGH,
                reasons.CONFIDENCE_SHIFT, reasons.ESTIMATED_ACCURACY_LOW)
    assert {c.reason for c in update.conditions if c.type not in optional} == {
        reasons.INSUFFICIENT_DATA}
