"""A regressor served without HTTP: values and intervals, feedback with true values
(error sums, tolerance), output-decile counters, SHAP towards the value, and the refusals."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from prometheus_client import CollectorRegistry
from vigia_serving.compiled import select_runtime
from vigia_serving.feedback import FeedbackItem
from vigia_serving.monitoring import Monitor
from vigia_serving.payloads import RowsRequest, parse_feedback
from vigia_serving.runtime import ModelRuntime
from vigia_serving.store import FeedbackConflictError, PredictionStore

from vigia import metrics
from vigia.bundle import ModelBundle
from vigia.features import InvalidInputError
from vigia.onnx.convert import UnsupportedModelError
from vigia.profile import NUMERIC_BINS
from vigia.sample import train_weight_model, weight_traffic_records
from vigia.settings import ServingSettings

LABELS = {"namespace": "bakery", "model": "weights", "version": "1", "track": "stable"}


@pytest.fixture(scope="module")
def bundle() -> ModelBundle:
    return train_weight_model(rows=1200, seed=3)


def runtime_of(bundle: ModelBundle, tmp_path: Path, registry: CollectorRegistry,
               **settings: Any) -> ModelRuntime:
    store = PredictionStore(f"sqlite:///{tmp_path}/log.db")
    store.create_tables()
    meta = bundle.metadata
    monitor = Monitor(namespace="bakery", model="weights", version="1", track="stable",
                      schema=meta.schema, profile=meta.profile, classes=meta.classes,
                      registry=registry)
    return ModelRuntime(bundle, ServingSettings(model_uri="unused", **settings), store, monitor)


def predict(runtime: ModelRuntime, rows: list[dict[str, Any]]) -> dict[str, Any]:
    request = RowsRequest("records", rows)

    async def run() -> dict[str, Any]:
        try:
            return await runtime.predict(request, runtime.validate(request))
        finally:
            await runtime.batcher.close()

    result = asyncio.run(run())
    runtime.store.flush()
    return result


SERVER = {**LABELS, metrics.LABEL_SOURCE: metrics.SOURCE_SERVER}


def value(registry: CollectorRegistry, name: str, **labels: str) -> float:
    """What the server counted itself (source server); a reference gauge has no source."""
    found = registry.get_sample_value(name, {**SERVER, **labels})
    if found is None:
        found = registry.get_sample_value(name, {**LABELS, **labels})
    return found or 0.0


def test_values_intervals_and_output_deciles(bundle: ModelBundle, tmp_path: Path) -> None:
    registry = CollectorRegistry()
    runtime = runtime_of(bundle, tmp_path, registry)
    rows, _ = weight_traffic_records(200, seed=8)
    answer = predict(runtime, rows)
    expected = bundle.predict_values(pd.DataFrame(rows)[list(bundle.metadata.schema.names)])
    got = [p["value"] for p in answer["predictions"]]
    np.testing.assert_allclose(got, expected)
    width = bundle.metadata.training_metrics["interval_halfwidth"]
    first = answer["predictions"][0]
    assert first["interval"] == pytest.approx(
        {"lower": first["value"] - width, "upper": first["value"] + width, "coverage": 0.9})
    counted = {b: value(registry, metrics.series(metrics.PREDICTIONS), **{"class": b})
               for b in NUMERIC_BINS}
    assert sum(counted.values()) == 200
    assert len([c for c in counted.values() if c > 0]) >= 8  # spread over the deciles
    assert value(registry, metrics.CLASS_PRIOR, **{"class": "0"}) == pytest.approx(0.1)
    assert registry.get_sample_value(f"{metrics.CONFIDENCE}_count", SERVER) is None


def test_feedback_with_true_values_sums_errors(bundle: ModelBundle, tmp_path: Path) -> None:
    registry = CollectorRegistry()
    runtime = runtime_of(bundle, tmp_path, registry, error_tolerance=5.0)
    rows, truth = weight_traffic_records(50, seed=9, drift=1.0)
    answer = predict(runtime, rows)
    ids = [p["prediction_id"] for p in answer["predictions"]]
    errors = np.array(truth) - np.array([p["value"] for p in answer["predictions"]])
    results = runtime.record_feedback([FeedbackItem(i, value=v) for i, v in zip(ids, truth,
                                                                                strict=True)])
    assert [r.error for r in results] == pytest.approx(errors.tolist())
    assert value(registry, metrics.FEEDBACK_ABSOLUTE_ERROR_SERIES) == pytest.approx(
        np.abs(errors).sum())
    assert value(registry, metrics.FEEDBACK_SQUARED_ERROR_SERIES) == pytest.approx(
        (errors**2).sum())
    assert value(registry, metrics.FEEDBACK_LABELLED_SERIES) == 50
    beyond = int((np.abs(errors) > 5.0).sum())
    assert beyond > 0
    assert value(registry, metrics.FEEDBACK_SERIES, outcome="incorrect") == beyond
    assert value(registry, metrics.FEEDBACK_SERIES, outcome="correct") == 50 - beyond
    assert not [sample for family in registry.collect() for sample in family.samples
                if sample.name == metrics.CONFUSION_SERIES]  # a regressor has no classes
    again = runtime.record_feedback([FeedbackItem(ids[0], value=truth[0])])
    assert again[0].duplicate and value(registry, metrics.FEEDBACK_LABELLED_SERIES) == 50
    with pytest.raises(FeedbackConflictError, match="already has true value") as refused:
        runtime.record_feedback([FeedbackItem(ids[0], value=truth[0] + 1)])
    assert refused.value.field == "value"


def test_tolerance_defaults_to_the_bundles_p90(bundle: ModelBundle, tmp_path: Path) -> None:
    runtime = runtime_of(bundle, tmp_path, CollectorRegistry())
    assert runtime.tolerance == bundle.metadata.training_metrics["abs_error_p90"]


def test_explain_attributes_the_value(bundle: ModelBundle, tmp_path: Path) -> None:
    runtime = runtime_of(bundle, tmp_path, CollectorRegistry())
    rows, _ = weight_traffic_records(3, seed=10)
    rows = [{**r, "ambient_temperature": 20.0} for r in rows]
    answer = runtime.explain_now(RowsRequest("records", rows))
    for row in answer["explanations"]:
        total = row["base_value"] + sum(row["attributions"].values())
        assert total == pytest.approx(row["value"], abs=1e-6)
        assert "class" not in row
    runtime.close()


def test_feedback_body_of_a_regressor_takes_values() -> None:
    items = parse_feedback(b'[{"prediction_id": "a", "value": 251.5}, '
                           b'{"prediction_id": "b", "value": 3}]',
                           classes=(), max_items=10, regression=True)
    assert [i.value for i in items] == [251.5, 3.0]
    for body, field, says in [
        (b'{"prediction_id": "a", "label": "good"}', "label", "regressor: give value"),
        (b'{"prediction_id": "a", "value": "12"}', "value", "a number"),
        (b'{"prediction_id": "a", "value": true}', "value", "a number"),
        (b'{"prediction_id": "a"}', "value", "the true value"),
    ]:
        with pytest.raises(InvalidInputError, match=says) as refused:
            parse_feedback(body, classes=(), max_items=10, regression=True)
        assert refused.value.field == field


def test_compiled_runtime_keeps_scikit_learn_for_a_regressor(bundle: ModelBundle) -> None:
    assert select_runtime(bundle, "auto") is bundle
    with pytest.raises(UnsupportedModelError, match="regressor"):
        select_runtime(bundle, "onnx")
