"""A regressor's ModelDeployment (spec.model.task Regression): the views, the server's
tolerance, the monitoring verdict in the model's units, and the canary's error gate."""

from __future__ import annotations

from dataclasses import replace

import pytest
from vigia_operator.children.serving import build_configmap
from vigia_operator.core import reasons
from vigia_operator.decide import monitoring as ev
from vigia_operator.decide.measurements import ModelSignals, TrackSignals
from vigia_operator.decide.rollout.gates import Measurements, TrackMeasurements, analyse
from vigia_operator.view import SpecError, parse
from vigia_operator.view.monitoring import parse_monitoring
from vigia_operator.view.rollout import ACCURACY_DROP, MAX_ERROR_INCREASE, parse_rollout

from tests.unit.operator.decide.rollout.helpers import T0
from tests.unit.operator.schema import defaulted_sample
from vigia.settings import env_name

NOW = 1_800_000_000.0
ERROR = {"tolerance": 5.0, "unit": "kg", "maxBeyondTolerance": 0.05, "maxMae": 3.0}


def regressor(**overrides: object) -> dict[str, object]:
    return defaulted_sample(**{"spec__model__task": "Regression",
                               "spec__monitoring__error": ERROR, **overrides})


def test_the_view_reads_the_task_the_error_and_the_error_gate() -> None:
    md = parse(regressor())
    assert md.model.task == "Regression"
    error = md.monitoring.error
    assert error is not None and md.monitoring.regression
    assert (error.tolerance, error.unit, error.max_beyond_tolerance, error.max_mae,
            error.min_feedback) == (5.0, "kg", 0.05, 3.0, 100)
    assert md.rollout is not None
    gates = md.rollout.analysis.gates
    assert gates.accuracy_drop is None
    assert gates.feedback_gate == (MAX_ERROR_INCREASE, 0.02)
    classifier = parse(defaulted_sample())
    assert classifier.model.task == "Classification" and classifier.monitoring.error is None
    assert classifier.rollout is not None
    assert classifier.rollout.analysis.gates.feedback_gate == (ACCURACY_DROP, 0.02)


def test_the_error_gate_margin_and_skip() -> None:
    spec = regressor()["spec"]
    assert isinstance(spec, dict)
    spec["rollout"]["analysis"]["gates"]["maxErrorIncrease"] = 0.05
    assert parse_rollout(spec).analysis.gates.feedback_gate == (MAX_ERROR_INCREASE, 0.05)
    spec["rollout"]["analysis"]["skipGates"] = [MAX_ERROR_INCREASE]
    assert parse_rollout(spec).analysis.gates.feedback_gate is None


def test_a_bad_tolerance_names_its_field() -> None:
    spec = regressor()["spec"]
    assert isinstance(spec, dict)
    spec["monitoring"]["error"] = {"tolerance": 0}
    with pytest.raises(SpecError, match=r"spec\.monitoring\.error\.tolerance"):
        parse_monitoring(spec)


def test_the_server_gets_the_tolerance_only_when_named() -> None:
    config = build_configmap(parse(regressor()))["data"]
    assert config[env_name("error_tolerance")] == "5.0"
    without = regressor(spec__monitoring__error={"unit": "kg"})
    assert env_name("error_tolerance") not in build_configmap(parse(without))["data"]
    assert env_name("error_tolerance") not in build_configmap(parse(defaulted_sample()))["data"]


def _verdict(**measured: float) -> ev.MonitoringVerdict:
    spec = parse_monitoring(regressor()["spec"])  # type: ignore[arg-type]
    track = TrackSignals(
        feature_rows={"oven_temperature": 3000.0}, feature_psi={"oven_temperature": 0.01},
        feature_jensen_shannon={"oven_temperature": 0.02}, predictions=3000.0,
        prediction_shift=0.01, feedback=3000.0, accuracy=1 - 212 / 3000,
        feedback_values=3000.0, mae=2.31, rmse=3.4, beyond_tolerance=212 / 3000,
        last_scrape=NOW - 10,
    )
    for name, value in measured.items():
        setattr(track, name, value)
    return ev.assess(spec, ModelSignals(tracks={("stable", "1"): track}), now=NOW)


def test_monitoring_speaks_in_the_models_units() -> None:
    verdict = _verdict()
    found = verdict.condition(reasons.ACCURACY_LOW)
    assert found is not None
    assert (found.status, found.reason) == ("True", reasons.ERROR_ABOVE_MAX)
    assert found.message.startswith(
        "off by more than 5 kg on 212 of 3000 predictions of version 1 (7.1%, maximum 5.0%")
    assert "MAE 2.31 kg, RMSE 3.4 kg" in found.message
    confidence = verdict.condition(reasons.CONFIDENCE_LOW)
    assert confidence is not None and confidence.reason == reasons.NO_CONFIDENCE
    assert verdict.section["error"] == {"tolerance": 5.0, "unit": "kg", "values": 3000,
                                        "beyondTolerance": 0.0707, "mae": 2.31, "rmse": 3.4}
    assert "confidence" not in verdict.section
    assert verdict.section["state"] == ev.STATE_DEGRADED


def test_within_the_limits_is_acceptable_and_too_few_is_insufficient() -> None:
    fine = _verdict(beyond_tolerance=0.02, mae=1.9).condition(reasons.ACCURACY_LOW)
    assert fine is not None and (fine.status, fine.reason) == ("False", reasons.ERROR_OK)
    assert _verdict(beyond_tolerance=0.02, mae=1.9).section["state"] == ev.STATE_HEALTHY
    mae_high = _verdict(beyond_tolerance=0.02, mae=3.5).condition(reasons.ACCURACY_LOW)
    assert mae_high is not None and mae_high.reason == reasons.ERROR_ABOVE_MAX
    few = _verdict(feedback=40.0).condition(reasons.ACCURACY_LOW)
    assert few is not None and (few.status, few.reason) == ("Unknown", reasons.INSUFFICIENT_DATA)
    assert "40 feedback values" in few.message


def test_the_canary_is_judged_by_its_share_beyond_tolerance() -> None:
    spec = parse_rollout(regressor()["spec"]).analysis  # type: ignore[arg-type]
    stable = TrackMeasurements(requests=1000, errors=0, latency_p95_s=0.02,
                               feedback_correct=9500, feedback_total=10000,
                               predictions={"0": 500, "1": 500}, input_drift=0.05)
    worse = replace(stable, feedback_correct=8000)
    analysis = analyse(spec, Measurements(canary=worse, stable=stable), T0)
    gate = next(g for g in analysis.gates if g.name == MAX_ERROR_INCREASE)
    assert gate.outcome == "Fail" and gate.value == pytest.approx(0.15)
    assert all(g.name != ACCURACY_DROP for g in analysis.gates)
    same = analyse(spec, Measurements(canary=stable, stable=stable), T0)
    assert next(g for g in same.gates if g.name == MAX_ERROR_INCREASE).outcome == "Pass"
