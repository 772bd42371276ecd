"""ModelRuntime without HTTP: predictions match the model, and feature logging modes."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from vigia_serving.payloads import RowsRequest
from vigia_serving.runtime import ModelRuntime
from vigia_serving.store import PredictionStore, predictions

from vigia.bundle import ModelBundle
from vigia.sample import reference_benchmark_model, traffic_records
from vigia.settings import ServingSettings


@pytest.fixture(scope="module")
def bundle() -> ModelBundle:
    return reference_benchmark_model(rows=400, seed=2)


def complete_rows(n: int) -> list[dict[str, Any]]:
    records, _ = traffic_records(n * 2, seed=4, numeric_only=True)
    return [r for r in records if None not in r.values()][:n]


def serve(bundle: ModelBundle, tmp_path: Path, request: RowsRequest, **settings: Any) -> tuple[
    dict[str, Any], PredictionStore
]:
    store = PredictionStore(f"sqlite:///{tmp_path}/log.db")
    store.create_tables()
    runtime = ModelRuntime(bundle, ServingSettings(model_uri="unused", **settings), store, None)

    async def run() -> dict[str, Any]:
        try:
            return await runtime.predict(request, runtime.validate(request))
        finally:
            await runtime.batcher.close()

    result = asyncio.run(run())
    store.flush()
    return result, store


def logged_features(store: PredictionStore) -> list[Any]:
    with store.engine.connect() as conn:
        return [row.features for row in conn.execute(predictions.select())]


def test_arrays_predict_like_the_model(bundle: ModelBundle, tmp_path: Path) -> None:
    rows = complete_rows(6)
    arrays = [list(r.values()) for r in rows]
    result, store = serve(bundle, tmp_path, RowsRequest("arrays", arrays))
    got = np.array([list(p["probabilities"].values()) for p in result["predictions"]])
    frame = pd.DataFrame(rows)[list(bundle.metadata.schema.names)]
    np.testing.assert_allclose(got, bundle.predict_proba(frame))
    assert [f["oven_temperature"] for f in logged_features(store)] == [
        r["oven_temperature"] for r in rows
    ]


@pytest.mark.parametrize(
    ("mode", "rate"), [("none", 1.0), ("sample", 0.0)]
)
def test_features_not_logged_when_switched_off(
    bundle: ModelBundle, tmp_path: Path, mode: str, rate: float
) -> None:
    request = RowsRequest("records", complete_rows(4))
    _, store = serve(bundle, tmp_path, request, log_features=mode, log_sample_rate=rate)
    assert logged_features(store) == [None] * 4
    assert store.count() == 4
