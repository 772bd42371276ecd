"""The server's segment counters (vigia_serving/segments.py), no server."""

from __future__ import annotations

import numpy as np
import pytest
from prometheus_client import CollectorRegistry
from vigia_serving.monitoring import Monitor

from tests.unit.serving.test_monitoring import LABELS
from vigia import metrics
from vigia.features import record_columns
from vigia.sample import traffic_records, train_sample_model
from vigia.segments import SegmentError


def monitor(segments: list[str], registry: CollectorRegistry) -> Monitor:
    meta = train_sample_model(rows=600, seed=3).metadata
    return Monitor(namespace="bakery", model="sobaos", version="1", track="canary",
                   schema=meta.schema, profile=meta.profile, classes=meta.classes,
                   registry=registry, segments=segments)


def test_bins_are_counted_within_each_value_against_its_own_reference() -> None:
    registry = CollectorRegistry()
    m = monitor(["flour_supplier"], registry)
    meta = train_sample_model(rows=600, seed=3).metadata
    records, _ = traffic_records(500, seed=5)
    m.observe_batch(record_columns(meta.schema, records), np.tile([0.3, 0.7], (500, 1)))
    reference = meta.profile.segments["flour_supplier"]
    for value in reference.values:
        where = {**LABELS, "segment": "flour_supplier", "segment_value": value,
                 "feature": "oven_temperature"}
        rows = sum(registry.get_sample_value(metrics.SEGMENT_FEATURE_BIN_SERIES,
                                             {**where, "bin": str(b)}) or 0.0
                   for b in range(10))
        assert rows == sum(1 for r in records if r["flour_supplier"] == value)
        share = registry.get_sample_value(metrics.SEGMENT_REFERENCE, {**where, "bin": "0"})
        assert share == pytest.approx(reference.shares[value]["oven_temperature"]["0"])


@pytest.mark.parametrize("segment, message", [
    ("oven_temperature", "not a categorical feature"),
    ("no_such_feature", "not a categorical feature"),
])
def test_a_segment_the_profile_cannot_hold_is_refused(segment: str, message: str) -> None:
    with pytest.raises(SegmentError, match=message):
        monitor([segment], CollectorRegistry())


def test_no_segments_no_series() -> None:
    registry = CollectorRegistry()
    monitor([], registry)
    assert not [m for m in registry.collect() if m.name.startswith("vigia_segment")]


def test_feedback_counts_under_the_segment_value_of_the_prediction_it_labels() -> None:
    from vigia_serving.feedback import FeedbackResult

    registry = CollectorRegistry()
    m = monitor(["flour_supplier"], registry)
    results = [
        FeedbackResult("a", "good", "good", False, features={"flour_supplier": "molinos_sur"}),
        FeedbackResult("b", "defective", "good", False,
                       features={"flour_supplier": "molinos_sur"}),
        FeedbackResult("c", "good", "good", False, features=None),  # inputs not logged
        FeedbackResult("d", "good", "good", False, features={"flour_supplier": "unknown"}),
    ]
    m.observe_feedback(results)
    where = {**LABELS, "segment": "flour_supplier", "segment_value": "molinos_sur"}
    series = metrics.SEGMENT_FEEDBACK_SERIES
    assert registry.get_sample_value(series, {**where, "outcome": "correct"}) == 1.0
    assert registry.get_sample_value(series, {**where, "outcome": "incorrect"}) == 1.0
    other = {**where, "segment_value": "harinera_norte", "outcome": "correct"}
    assert registry.get_sample_value(series, other) == 0.0  # exported at zero
