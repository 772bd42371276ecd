"""The gates: every measured value against its limit, and the verdict with no data."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from vigia_operator.decide.rollout.gates import (
    LabelsSoFar,
    Measurements,
    TrackMeasurements,
    analyse,
)
from vigia_operator.decide.rollout.model import Analysis
from vigia_operator.decide.rollout.sequential import Labels
from vigia_operator.view.rollout import AnalysisSpec

from tests.unit.operator.decide.rollout.helpers import T0, rollout_spec
from vigia.drift import psi

SPEC = rollout_spec().analysis  # minSamples 100, minFeedback 50, accuracyDrop 0.02 (defaults)
# Labels enough for the accuracy's interval to be narrower than its 0.02 margin.
STABLE = TrackMeasurements(
    requests=1000, errors=2, latency_p95_s=0.020, feedback_correct=9000, feedback_total=10000,
    predictions={"good": 700, "bad": 300}, input_drift=0.05,
)


def _judge(spec: AnalysisSpec = SPEC, **canary: Any) -> Analysis:
    return analyse(spec, Measurements(canary=replace(STABLE, **canary), stable=STABLE), T0)


def _gate(analysis, name):
    return next(g for g in analysis.gates if g.name == name)


def test_a_canary_like_the_stable_passes_with_every_value_reported() -> None:
    a = _judge()
    assert a.verdict == "Pass" and not a.no_data
    assert [g.name for g in a.gates] == [
        "errorRate", "latencyP95", "accuracyDrop", "predictionShift", "inputDrift"]
    assert _gate(a, "errorRate").value == pytest.approx(0.002)
    assert _gate(a, "latencyP95").value == pytest.approx(1.0)
    assert _gate(a, "accuracyDrop").value == pytest.approx(0.0)
    assert _gate(a, "predictionShift").value == pytest.approx(0.0)
    assert all(g.outcome == "Pass" for g in a.gates)
    assert (a.canary_samples, a.stable_samples) == (1000, 1000)


@pytest.mark.parametrize(("field", "value", "gate", "measured"), [
    ("errors", 30, "errorRate", 0.03),
    ("latency_p95_s", 0.040, "latencyP95", 2.0),
    ("input_drift", 0.30, "inputDrift", 0.25),
])
def test_each_gate_fails_on_its_own(field, value, gate, measured) -> None:
    a = _judge(**{field: value})
    assert a.verdict == "Fail"
    failing = [g.name for g in a.gates if g.outcome == "Fail"]
    assert failing == [gate]
    assert _gate(a, gate).value == pytest.approx(measured)
    assert f"{gate} {measured:.4g} >" in a.message


def test_prediction_shift_is_the_psi_of_canary_classes_against_stable() -> None:
    a = _judge(predictions={"good": 300, "bad": 700})
    expected = psi({"bad": 0.3, "good": 0.7}, {"bad": 700, "good": 300})
    assert _gate(a, "predictionShift").value == pytest.approx(expected)
    assert a.verdict == "Fail"


def test_a_canary_better_than_the_stable_passes() -> None:
    a = _judge(feedback_correct=9900, latency_p95_s=0.010, input_drift=0.0)
    assert a.verdict == "Pass" and _gate(a, "accuracyDrop").value == pytest.approx(-0.09)


def test_a_drop_surely_beyond_the_margin_fails_with_its_interval_and_labels() -> None:
    a = _judge(feedback_correct=8000)
    gate = _gate(a, "accuracyDrop")
    assert a.verdict == "Fail" and gate.outcome == "Fail"
    assert gate.value == pytest.approx(0.10) and 0.02 < gate.low < 0.10 < gate.high
    assert (gate.samples, gate.stable_samples) == (10000, 10000)
    assert (f"Fail: accuracyDrop 0.10 [{gate.low:.2f}, {gate.high:.2f}] > 0.02 "
            "(10000 canary, 10000 stable labels)") in a.message


def test_the_same_drop_on_few_labels_is_undecided_and_waits() -> None:
    """10 points worse on 100 labels a track: too few to tell it from the margin, so the
    verdict is that of missing data (onNoData), with the interval that says why."""
    few = replace(STABLE, feedback_correct=90, feedback_total=100)
    a = analyse(SPEC, Measurements(canary=replace(few, feedback_correct=80), stable=few), T0)
    gate = _gate(a, "accuracyDrop")
    assert gate.outcome == "NoData" and gate.value == pytest.approx(0.10)
    assert gate.low is not None and gate.low < 0.02 < gate.high
    assert a.verdict == "Inconclusive" and a.no_data
    assert a.message.startswith(f"Inconclusive: accuracyDrop 0.10 [{gate.low:.2f}, ")
    assert "undecided at 0.02 (100 canary, 100 stable labels)" in a.message
    passed = analyse(replace(SPEC, on_no_data="Pass"),
                     Measurements(canary=replace(few, feedback_correct=80), stable=few), T0)
    assert passed.verdict == "Pass" and passed.message.startswith("Pass by onNoData=Pass")


def test_labels_accumulate_from_one_analysis_to_the_next() -> None:
    """The window's labels are added to those counted before, only for the share of the
    window no recorded analysis has counted; the total is what the test judges."""
    window = replace(STABLE, feedback_correct=18, feedback_total=20)
    before = LabelsSoFar(Labels(360, 400), Labels(1440, 1600), new_share=0.5)
    a = analyse(SPEC, Measurements(canary=window, stable=replace(window, feedback_total=20)),
                T0, so_far=before)
    assert a.canary_labels == Labels(369, 410) and a.stable_labels == Labels(1449, 1610)
    assert _gate(a, "accuracyDrop").samples == 410
    assert (a.canary_feedback, a.stable_feedback) == (20, 20)  # the window's own
    # Alone, the window's 20 labels are too few for minFeedback.
    alone = analyse(SPEC, Measurements(canary=window, stable=window), T0)
    assert _gate(alone, "accuracyDrop").value is None
    down = analyse(SPEC, None, T0, error="Prometheus unreachable", so_far=before)
    assert down.canary_labels == Labels(360, 400), "an unmeasured window loses nothing"


@pytest.mark.parametrize(("policy", "verdict"), [
    ("Inconclusive", "Inconclusive"), ("Pass", "Pass"), ("Fail", "Fail")])
def test_too_few_requests_follows_on_no_data(policy, verdict) -> None:
    a = _judge(replace(SPEC, on_no_data=policy), requests=40, errors=0)
    assert a.verdict == verdict and a.no_data
    assert _gate(a, "errorRate").outcome == "NoData"
    assert a.message.startswith(verdict) and "(40/" in a.message
    assert policy == "Inconclusive" or f"by onNoData={policy}" in a.message


def test_a_measured_failure_wins_over_missing_data() -> None:
    a = _judge(feedback_total=3, feedback_correct=3, errors=300)
    assert a.verdict == "Fail" and not a.no_data
    assert _gate(a, "accuracyDrop").outcome == "NoData"


def test_too_little_feedback_is_no_data_for_accuracy() -> None:  # minFeedback
    a = _judge(feedback_total=10, feedback_correct=10)
    assert a.verdict == "Inconclusive" and _gate(a, "accuracyDrop").value is None
    assert "accuracyDrop" in a.message and "10/50 canary feedback" in a.message


def test_skipped_gates_are_not_evaluated() -> None:
    spec = rollout_spec(skipGates=["accuracyDrop", "inputDrift"]).analysis
    a = _judge(spec, feedback_total=0, feedback_correct=0, input_drift=None)
    assert a.verdict == "Pass"
    assert [g.name for g in a.gates] == ["errorRate", "latencyP95", "predictionShift"]


def test_unavailable_measurements_are_inconclusive_whatever_the_policy() -> None:
    a = analyse(replace(SPEC, on_no_data="Pass"), None, T0, error="Prometheus unreachable")
    assert a.verdict == "Inconclusive" and a.no_data and "Prometheus unreachable" in a.message


def test_missing_stable_latency_is_no_data() -> None:
    a = analyse(SPEC, Measurements(canary=STABLE, stable=replace(STABLE, latency_p95_s=None)),
                 T0)
    assert _gate(a, "latencyP95").outcome == "NoData" and a.verdict == "Inconclusive"


def test_latency_without_enough_stable_requests_counts_the_stable_ones() -> None:
    a = analyse(SPEC, Measurements(canary=STABLE, stable=replace(STABLE, requests=29)), T0)
    latency = _gate(a, "latencyP95")
    assert (latency.outcome, latency.samples) == ("NoData", 29)
    assert a.verdict == "Inconclusive"


def test_a_drop_rounded_to_zero_reads_zero_not_minus_zero() -> None:
    a = _judge(feedback_correct=9003, feedback_total=10000)
    assert "accuracyDrop 0.00 [" in a.message and "-0.00" not in a.message
