"""Segments in the drift verdict: a drift in one value of a segment feature is named even
when the whole population's score stays low (decide/segments.py)."""

from __future__ import annotations

from dataclasses import replace

from vigia_operator.core import reasons
from vigia_operator.decide import monitoring as ev
from vigia_operator.decide.measurements import TrackSignals

from tests.unit.operator.decide.test_monitoring import NOW, SPEC, healthy_track, signals, status_of

SEGMENTED = replace(SPEC, segments=("flour_supplier",))
B = ("flour_supplier", "molinos_sur", "oven_temperature")
A = ("flour_supplier", "harinera_norte", "oven_temperature")


def track(**changes: object) -> TrackSignals:
    return healthy_track(segment_psi={B: 1.339, A: 0.02},
                         segment_jensen_shannon={B: 0.41, A: 0.03},
                         segment_rows={B: 612.0, A: 1388.0}, **changes)


def test_a_drift_in_one_segment_that_the_population_misses_is_named() -> None:
    verdict = ev.assess(SEGMENTED, signals(track()), now=NOW)
    assert status_of(verdict, reasons.DRIFTED) == ("True", reasons.SEGMENT_DRIFTED)
    found = verdict.condition(reasons.DRIFTED)
    assert found is not None and found.message == (
        "PSI above 0.2 for oven_temperature (1.339) in flour_supplier=molinos_sur over 1h"
        " (612 predictions in flour_supplier=molinos_sur of version 1); the whole"
        " population's highest is 0.020")
    assert verdict.section["drift"]["segments"] == [
        {"segment": "flour_supplier", "value": "molinos_sur", "feature": "oven_temperature",
         "score": 1.339, "rows": 612}]
    assert verdict.section["state"] == ev.STATE_DEGRADED


def test_the_spec_statistic_and_threshold_apply_to_segments() -> None:
    js = replace(SEGMENTED, statistic="JensenShannon", drift_threshold=0.5)
    verdict = ev.assess(js, signals(track()), now=NOW)
    assert status_of(verdict, reasons.DRIFTED) == ("False", reasons.NO_DRIFT)


def test_a_segment_with_too_few_rows_or_not_asked_for_is_not_judged() -> None:
    few = replace(SEGMENTED, drift_min_samples=700)
    t = track()
    t.predictions = 2000.0  # the population has enough, the segment (612) does not
    assert status_of(ev.assess(few, signals(t), now=NOW), reasons.DRIFTED)[1] == reasons.NO_DRIFT
    assert status_of(ev.assess(SPEC, signals(track()), now=NOW),
                     reasons.DRIFTED)[1] == reasons.NO_DRIFT


def test_a_population_drift_keeps_its_message_and_lists_the_segments_in_status() -> None:
    t = track(feature_psi={"oven_temperature": 0.31, "shift": 0.02})
    verdict = ev.assess(SEGMENTED, signals(t), now=NOW)
    assert status_of(verdict, reasons.DRIFTED) == ("True", reasons.FEATURES_DRIFTED)
    assert verdict.section["drift"]["segments"][0]["value"] == "molinos_sur"


def test_low_accuracy_in_one_segment_is_named_with_its_labels() -> None:
    """The issue's sentence: "accuracy 0.71 for flour_supplier=B over 1h, 612 labels"."""
    t = track(segment_accuracy={B[:2]: 0.71, A[:2]: 0.95},
              segment_feedback={B[:2]: 612.0, A[:2]: 1398.0}, accuracy=0.884, feedback=2010.0)
    verdict = ev.assess(SEGMENTED, signals(t), now=NOW)
    assert status_of(verdict, reasons.ACCURACY_LOW) == (
        "True", reasons.SEGMENT_ACCURACY_BELOW_MIN)
    found = verdict.condition(reasons.ACCURACY_LOW)
    assert found is not None and found.message == (
        "accuracy 0.71 for flour_supplier=molinos_sur over 1h, 612 labels of version 1"
        " (minimum 0.85; the whole population's 0.884 from 2010 labels)")
    assert verdict.section["segmentAccuracy"] == [
        {"segment": "flour_supplier", "value": "molinos_sur", "accuracy": 0.71,
         "feedback": 612},
        {"segment": "flour_supplier", "value": "harinera_norte", "accuracy": 0.95,
         "feedback": 1398}]


def test_a_segment_with_too_few_labels_is_not_judged_on_accuracy() -> None:
    t = track(segment_accuracy={B[:2]: 0.2}, segment_feedback={B[:2]: 40.0})
    verdict = ev.assess(SEGMENTED, signals(t), now=NOW)
    assert status_of(verdict, reasons.ACCURACY_LOW) == ("False", reasons.ACCURACY_OK)
    assert verdict.section["segmentAccuracy"] == []
