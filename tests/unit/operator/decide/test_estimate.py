"""Estimated accuracy without labels in the monitoring verdict (decide/estimate.py)."""

from __future__ import annotations

from vigia_operator.core import reasons
from vigia_operator.decide import monitoring as ev

from tests.unit.operator.decide.test_monitoring import NOW, SPEC, healthy_track, signals, status_of

ESTIMATE = reasons.ESTIMATED_ACCURACY_LOW


def test_an_estimate_above_the_minimum_is_acceptable_and_shown_beside_the_accuracy() -> None:
    verdict = ev.assess(SPEC, signals(healthy_track(estimated_accuracy=0.9012,
                                                    calibration_error=0.027)), now=NOW)
    assert status_of(verdict, ESTIMATE) == ("False", reasons.ESTIMATE_OK)
    assert verdict.section["estimatedAccuracy"] == {
        "value": 0.9012, "predictions": 2000, "calibrationError": 0.027,
        "maxCalibrationError": 0.05}
    assert verdict.section["accuracy"] == 0.93
    assert verdict.section["state"] == ev.STATE_HEALTHY
    found = verdict.condition(ESTIMATE)
    assert found is not None and found.message == (
        "estimated accuracy 0.901 without labels from 2000 predictions of version 1 over 1h"
        " (minimum 0.85)")


def test_an_estimate_below_the_minimum_degrades_even_without_labels() -> None:
    track = healthy_track(estimated_accuracy=0.8, calibration_error=0.03, feedback=0.0,
                          accuracy=None)
    verdict = ev.assess(SPEC, signals(track), now=NOW)
    assert status_of(verdict, ESTIMATE) == ("True", reasons.ESTIMATE_BELOW_MIN)
    assert status_of(verdict, reasons.ACCURACY_LOW)[1] == reasons.INSUFFICIENT_DATA
    assert verdict.section["state"] == ev.STATE_DEGRADED


def test_a_badly_calibrated_model_has_no_estimate_and_says_why() -> None:
    verdict = ev.assess(SPEC, signals(healthy_track(calibration_error=0.081)), now=NOW)
    assert status_of(verdict, ESTIMATE) == ("Unknown", reasons.NO_ESTIMATE)
    section = verdict.section["estimatedAccuracy"]
    assert "value" not in section and section["calibrationError"] == 0.081
    assert "0.081, is above 0.05" in section["reason"]
    # No estimate is not "no data": the rest of the verdict stands.
    assert verdict.section["state"] == ev.STATE_HEALTHY


def test_a_bundle_without_a_check_has_no_estimate() -> None:
    verdict = ev.assess(SPEC, signals(healthy_track()), now=NOW)
    assert status_of(verdict, ESTIMATE) == ("Unknown", reasons.NO_ESTIMATE)
    assert "no calibration check" in verdict.section["estimatedAccuracy"]["reason"]


def test_few_predictions_are_insufficient_for_the_estimate() -> None:
    track = healthy_track(estimated_accuracy=0.7, calibration_error=0.02, predictions=120.0)
    verdict = ev.assess(SPEC, signals(track), now=NOW)
    assert status_of(verdict, ESTIMATE) == ("Unknown", reasons.INSUFFICIENT_DATA)
