"""Monitoring counters and SHAP attributions on the sample model (no server)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from prometheus_client import CollectorRegistry
from vigia_serving.explain import TreeAttributor
from vigia_serving.monitoring import Monitor
from vigia_serving.store import FeedbackResult

from vigia import metrics
from vigia.bundle import ModelBundle
from vigia.features import record_columns
from vigia.sample import reference_benchmark_model, traffic_records, train_sample_model

LABELS = {"namespace": "bakery", "model": "sobaos", "version": "1", "track": "canary"}


@pytest.fixture(scope="module")
def bundle() -> ModelBundle:
    return train_sample_model(rows=1200, seed=3)


def make_monitor(bundle: ModelBundle, registry: CollectorRegistry) -> Monitor:
    meta = bundle.metadata
    return Monitor(
        namespace="bakery", model="sobaos", version="1", track="canary", schema=meta.schema,
        profile=meta.profile, classes=meta.classes, registry=registry,
    )


def value(registry: CollectorRegistry, name: str, **labels: str) -> float:
    # The training reference is the version's; what was counted says where (source).
    reference = name in (metrics.FEATURE_REFERENCE, metrics.CLASS_PRIOR, metrics.REJECTED_REQUESTS,
                         metrics.CONFIDENCE_REFERENCE, metrics.CONFIDENCE_REFERENCE_ROWS)
    source = {} if reference or name.startswith(metrics.REJECTED_REQUESTS) else {
        metrics.LABEL_SOURCE: metrics.SOURCE_SERVER}
    found = registry.get_sample_value(name, {**LABELS, **source, **labels})
    return 0.0 if found is None else found


def test_training_reference_is_exported_as_gauges(bundle: ModelBundle) -> None:
    registry = CollectorRegistry()
    make_monitor(bundle, registry)
    profile = bundle.metadata.profile
    for feature in bundle.metadata.schema.names:
        shares = profile.reference_shares(feature)
        exported = {
            b: value(registry, metrics.FEATURE_REFERENCE, feature=feature, bin=b) for b in shares
        }
        assert exported == pytest.approx(shares)
        assert sum(exported.values()) == pytest.approx(1.0)
    for label, prior in profile.class_priors.items():
        assert value(registry, metrics.CLASS_PRIOR, **{"class": label}) == pytest.approx(prior)


def test_batch_counts_classes_confidence_bins_and_missing(bundle: ModelBundle) -> None:
    registry = CollectorRegistry()
    monitor = make_monitor(bundle, registry)
    records, _ = traffic_records(300, seed=5)
    records[0]["ambient_temperature"] = None
    records[1]["oven_temperature"] = 10_000.0
    columns = record_columns(bundle.metadata.schema, records)
    proba = np.tile([0.3, 0.7], (300, 1))
    monitor.observe_batch(columns, proba)

    assert value(registry, metrics.PREDICTIONS_SERIES, **{"class": "good"}) == 300
    assert value(registry, f"{metrics.CONFIDENCE}_count") == 300
    assert value(registry, f"{metrics.CONFIDENCE}_bucket", le="0.7") == 300
    assert value(registry, f"{metrics.CONFIDENCE}_bucket", le="0.6") == 0
    bins = [
        value(registry, metrics.FEATURE_BIN_SERIES, feature="oven_temperature", bin=str(b))
        for b in range(10)
    ]
    assert sum(bins) == 300
    assert value(registry, metrics.FEATURE_BIN_SERIES, feature="bin", bin="0") == 0
    assert value(
        registry, metrics.FEATURE_MISSING_SERIES, feature="ambient_temperature"
    ) >= 1
    assert value(
        registry, metrics.FEATURE_OUT_OF_RANGE_SERIES, feature="oven_temperature"
    ) >= 1
    suppliers = sum(
        value(registry, metrics.FEATURE_BIN_SERIES, feature="flour_supplier", bin=c)
        for c in bundle.metadata.profile.bin_labels("flour_supplier")
    )
    assert suppliers == 300


def test_feedback_counts_outcome_and_confusion_once(bundle: ModelBundle) -> None:
    registry = CollectorRegistry()
    monitor = make_monitor(bundle, registry)
    monitor.observe_feedback(
        [
            FeedbackResult("a", "good", "good", duplicate=False),
            FeedbackResult("b", "defective", "good", duplicate=False),
            FeedbackResult("b", "defective", "good", duplicate=True),
        ]
    )
    assert value(registry, metrics.FEEDBACK_SERIES, outcome="correct") == 1
    assert value(registry, metrics.FEEDBACK_SERIES, outcome="incorrect") == 1
    assert value(
        registry, metrics.CONFUSION_SERIES, actual="defective", predicted="good"
    ) == 1


def test_feedback_without_a_true_class_counts_for_accuracy_only(bundle: ModelBundle) -> None:
    """"Wrong" among more classes: an incorrect outcome, no confusion cell, not labelled;
    its class given later: the cell and the labelled count, not the outcome a second time."""
    registry = CollectorRegistry()
    monitor = make_monitor(bundle, registry)
    monitor.observe_feedback([
        FeedbackResult("a", None, "good", duplicate=False),
        FeedbackResult("b", "good", "good", duplicate=False),
    ])
    assert value(registry, metrics.FEEDBACK_SERIES, outcome="incorrect") == 1
    assert value(registry, metrics.FEEDBACK_SERIES, outcome="correct") == 1
    assert value(registry, metrics.FEEDBACK_LABELLED_SERIES) == 1
    assert value(registry, metrics.CONFUSION_SERIES, actual="good", predicted="good") == 1
    monitor.observe_feedback([FeedbackResult("a", "defective", "good", False, completed=True)])
    assert value(registry, metrics.FEEDBACK_SERIES, outcome="incorrect") == 1
    assert value(registry, metrics.FEEDBACK_LABELLED_SERIES) == 2
    assert value(registry, metrics.CONFUSION_SERIES, actual="defective", predicted="good") == 1


def test_feedback_counts_under_the_version_that_predicted(bundle: ModelBundle) -> None:
    """Behind one Service a label may reach the other track's pod: it still counts for the
    version and track that made the prediction (the canary's accuracy gate needs that)."""
    registry = CollectorRegistry()
    monitor = make_monitor(bundle, registry)  # this pod: version 1, canary
    monitor.observe_feedback([
        FeedbackResult("a", "good", "defective", False, version="0", track="stable"),
        FeedbackResult("b", "good", "good", False, version="1", track="canary"),
    ])
    stable = {"version": "0", "track": "stable"}
    assert value(registry, metrics.FEEDBACK_SERIES, outcome="incorrect", **stable) == 1
    assert value(registry, metrics.FEEDBACK_SERIES, outcome="incorrect") == 0
    assert value(registry, metrics.FEEDBACK_SERIES, outcome="correct") == 1
    assert value(registry, metrics.CONFUSION_SERIES, actual="good", predicted="defective",
                 **stable) == 1


def test_pipeline_attributions_are_per_input_feature_and_additive(bundle: ModelBundle) -> None:
    names = list(bundle.metadata.schema.names)
    records, _ = traffic_records(5, seed=9)
    frame = pd.DataFrame(records)[names]
    values, base = TreeAttributor(bundle.estimator, names).explain(frame)
    proba = bundle.predict_proba(frame)
    assert values.shape == (5, len(names), 2)
    np.testing.assert_allclose(base + values.sum(axis=1), proba, atol=1e-6)


def test_plain_forest_attributions() -> None:
    bundle = reference_benchmark_model(rows=600)
    names = list(bundle.metadata.schema.names)
    records, _ = traffic_records(4, seed=2, numeric_only=True)
    frame = pd.DataFrame(records)[names].fillna(20.0)
    values, base = TreeAttributor(bundle.estimator, names).explain(frame)
    np.testing.assert_allclose(base + values.sum(axis=1), bundle.predict_proba(frame), atol=1e-6)


def test_every_confusion_cell_is_exported_at_zero_before_any_feedback(
        bundle: ModelBundle) -> None:
    """increase() needs a series' zero to count its first label (per-class rates, cost)."""
    registry = CollectorRegistry()
    make_monitor(bundle, registry)
    classes = bundle.metadata.classes
    for actual in classes:
        for predicted in classes:
            found = registry.get_sample_value(
                metrics.CONFUSION_SERIES, {**LABELS, metrics.LABEL_SOURCE: metrics.SOURCE_SERVER,
                                           "actual": actual, "predicted": predicted})
            assert found == 0.0


def test_the_holdout_confidence_reference_is_exported_as_gauges(bundle: ModelBundle) -> None:
    registry = CollectorRegistry()
    make_monitor(bundle, registry)
    reference = bundle.metadata.profile.confidence
    assert reference is not None and reference.rows > 0
    for bound, share in zip(reference.buckets, reference.cumulative_shares, strict=True):
        assert value(registry, metrics.CONFIDENCE_REFERENCE, le=repr(float(bound))) == (
            pytest.approx(share))
    assert value(registry, metrics.CONFIDENCE_REFERENCE_ROWS) == reference.rows
