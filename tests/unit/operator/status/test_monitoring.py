"""The monitoring section: status.monitoring and its conditions from a tick's signals."""

from __future__ import annotations

import pytest
from vigia_operator import reasons
from vigia_operator.analysis.signals import ModelSignals, TrackSignals
from vigia_operator.analysis.tick_provider import COLLECTED_AT, MONITORING
from vigia_operator.engine.signals import Signals
from vigia_operator.spec import SpecError, parse
from vigia_operator.status.monitoring import monitoring_sections
from vigia_operator.status.sections import SectionInput

from tests.unit.operator.schema import defaulted_sample

MD = parse(defaulted_sample())
AT = 1_800_000_000.0


def given(signals: Signals | None, previous: dict[str, object] | None = None) -> SectionInput:
    return SectionInput(md=MD, observed={}, previous={"monitoring": previous or {}},
                        signals=signals, now="2027-01-15T08:00:00Z")


def drifted_signals() -> ModelSignals:
    track = TrackSignals(feature_psi={"oven_temperature": 0.7}, predictions=5000.0,
                         feedback=10.0, last_scrape=AT - 5)
    return ModelSignals(tracks={"stable": track})


def test_the_spec_reaches_the_view_with_the_crd_defaults() -> None:
    assert MD.monitoring.window == "1h" and MD.monitoring.drift_threshold == 0.2


def test_outside_a_tick_the_section_is_left_alone() -> None:
    assert monitoring_sections(given(None)) == ()


def test_a_tick_writes_the_section_and_conditions() -> None:
    signals = Signals("t", values={MONITORING: drifted_signals(), COLLECTED_AT: AT})
    (update,) = monitoring_sections(given(signals))
    assert update.name == "monitoring" and update.value is not None
    assert update.value["drift"]["features"] == ["oven_temperature"]
    conditions = {c.type: c for c in update.conditions}
    assert conditions[reasons.DRIFTED].status == "True"
    assert conditions[reasons.ACCURACY_LOW].reason == reasons.INSUFFICIENT_DATA
    assert "10 feedback labels" in conditions[reasons.ACCURACY_LOW].message


def test_a_failed_collection_is_unknown() -> None:
    signals = Signals("t", values={COLLECTED_AT: AT}, error="connection refused")
    (update,) = monitoring_sections(given(signals, previous={"accuracy": 0.9}))
    assert {c.status for c in update.conditions} == {"Unknown"}
    assert update.value is not None and update.value["accuracy"] == 0.9


def test_the_view_refuses_a_bad_monitoring_spec() -> None:
    body = defaulted_sample()
    body["spec"]["monitoring"]["window"] = "soon"
    with pytest.raises(SpecError) as caught:
        parse(body)
    assert caught.value.field == "spec.monitoring.window"
