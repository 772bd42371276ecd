"""Device aggregates (vigia.onnx.telemetry) folded into the server's monitoring families:
the same rows counted on a device and on the server give the same series, under ``source``."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from vigia_serving.monitoring import Monitor
from vigia_serving.telemetry import RateLimit, expected_of, fold

from vigia import metrics
from vigia.bundle import ModelBundle
from vigia.features import record_columns
from vigia.onnx.export import Compiled, compile_bundle
from vigia.onnx.telemetry import Aggregates
from vigia.sample import traffic_records, train_sample_model
from vigia.telemetry import Expected, ReportError, parse_report

BASE = {"namespace": "bakery", "model": "sobaos", "version": "4", "track": "stable"}
COUNTED = (metrics.PREDICTIONS_SERIES, metrics.FEATURE_BIN_SERIES, metrics.FEATURE_MISSING_SERIES,
           metrics.FEATURE_OUT_OF_RANGE_SERIES, metrics.FEEDBACK_SERIES,
           f"{metrics.CONFIDENCE}_bucket", f"{metrics.CONFIDENCE}_count",
           f"{metrics.CONFIDENCE}_sum")


@pytest.fixture(scope="module")
def bundle() -> ModelBundle:
    return train_sample_model(rows=1200, seed=3, version="4")


@pytest.fixture(scope="module")
def compiled(bundle: ModelBundle) -> Compiled:
    return compile_bundle(bundle)


class _Runtime:
    def __init__(self, bundle: ModelBundle) -> None:
        self.bundle = bundle


def monitor(bundle: ModelBundle, registry: CollectorRegistry) -> Monitor:
    meta = bundle.metadata
    return Monitor(namespace="bakery", model="sobaos", version="4", track="stable",
                   schema=meta.schema, profile=meta.profile, classes=meta.classes,
                   registry=registry)


def series(registry: CollectorRegistry, source: str) -> dict[tuple[Any, ...], float]:
    """Every counted sample of ``source``, keyed without the source label."""
    found = {}
    for family in registry.collect():
        for sample in family.samples:
            if sample.name in COUNTED and sample.labels.get("source") == source:
                labels = {k: v for k, v in sample.labels.items() if k != "source"}
                found[(sample.name, *sorted(labels.items()))] = sample.value
    return found


def device_report(compiled: Compiled, records: list[dict[str, Any]]) -> dict[str, Any]:
    runner = compiled.runner()
    runner.aggregates = Aggregates(compiled.manifest)
    predictions = runner.predict(records)
    for i, _ in enumerate(predictions[:30]):
        runner.aggregates.observe_feedback(i % 3 != 0)
    return runner.aggregates.take_report()


def test_a_device_report_counts_what_the_server_counts_for_the_same_rows(
    bundle: ModelBundle, compiled: Compiled
) -> None:
    records, _ = traffic_records(400, seed=8, drift=0.5)
    records[0]["oven_temperature"] = 10_000.0  # out of range
    records[1]["ambient_temperature"] = None  # missing
    registry = CollectorRegistry()
    served = monitor(bundle, registry)
    columns = record_columns(bundle.metadata.schema, records)
    served.observe_batch(columns, compiled.runner().predict_proba(records))
    report = parse_report(device_report(compiled, records), expected_of(_Runtime(bundle)))
    fold(served.families, report)

    on_server = series(registry, metrics.SOURCE_SERVER)
    from_edge = series(registry, metrics.SOURCE_EDGE)
    feedback = {k: v for k, v in from_edge.items() if k[0] == metrics.FEEDBACK_SERIES}
    assert sum(feedback.values()) == 30
    counted = {k: v for k, v in from_edge.items() if k[0] != metrics.FEEDBACK_SERIES}
    server_counted = {k: v for k, v in on_server.items()
                      if k[0] != metrics.FEEDBACK_SERIES and v}
    assert {k: v for k, v in counted.items() if v}.keys() == server_counted.keys()
    for key, count in server_counted.items():
        assert counted[key] == pytest.approx(count, rel=1e-6), key
    labels = {**BASE, "source": "edge"}
    assert registry.get_sample_value(f"{metrics.CONFIDENCE}_count", labels) == 400
    missing = registry.get_sample_value(
        metrics.FEATURE_MISSING_SERIES, {**labels, "feature": "ambient_temperature"})
    assert missing is not None and missing >= 1


def test_a_report_carries_no_input_value(compiled: Compiled) -> None:
    records, _ = traffic_records(50, seed=9)
    records[0]["oven_temperature"] = 187.654321
    text = str(device_report(compiled, records))
    assert "187.65" not in text
    assert "oven_temperature" in text  # a feature's name, with counts only


def expected() -> Expected:
    return Expected("sobaos", "4", ("defective", "good"), {"shift": ("day", "night")})


def good_report() -> dict[str, Any]:
    return {
        "model": "sobaos", "version": "4", "source": "browser", "predictions": 3,
        "classes": {"good": 2, "defective": 1},
        "confidence": {"buckets": [0, 0, 1, 0, 2, 0, 0, 0, 0], "sum": 2.5},
        "features": {"shift": {"bins": {"day": 2}, "missing": 1}},
        "feedback": {"correct": 1},
    }


@pytest.mark.parametrize(("change", "field"), [
    (lambda r: r.update(rows=[{"shift": "day"}]), "rows"),
    (lambda r: r.update(source="server"), "source"),
    (lambda r: r.update(version="3"), "version"),
    (lambda r: r.update(predictions=-1), "predictions"),
    (lambda r: r.update(predictions=2_000_000), "predictions"),
    (lambda r: r["classes"].update(good=3), "classes"),
    (lambda r: r["classes"].update(maybe=0), "classes.maybe"),
    (lambda r: r["confidence"].update(buckets=[3]), "confidence.buckets"),
    (lambda r: r["confidence"].update(sum=4.0), "confidence.sum"),
    (lambda r: r["confidence"].update(values=[0.7]), "confidence.values"),
    (lambda r: r["features"].update(egg_ratio={}), "features.egg_ratio"),
    (lambda r: r["features"]["shift"]["bins"].update(evening=0), "features.shift.bins.evening"),
    (lambda r: r["features"]["shift"].update(value="day"), "features.shift.value"),
    (lambda r: r["features"]["shift"].update(missing=2), "features.shift.bins"),
    (lambda r: r["feedback"].update(correct=1.5), "feedback.correct"),
])
def test_a_report_that_does_not_fit_is_refused_naming_the_field(change: Any, field: str) -> None:
    parse_report(good_report(), expected())
    report = copy.deepcopy(good_report())
    change(report)
    with pytest.raises(ReportError) as refused:
        parse_report(report, expected())
    assert refused.value.field == field


def test_the_rate_limit_lets_a_minute_of_reports_through_then_says_when() -> None:
    limit = RateLimit(3)
    assert [limit.take() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert 0 < limit.take() <= 20
