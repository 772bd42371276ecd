"""VIGIA_RUNTIME=onnx|auto: the model server computes with onnxruntime where parity holds."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from sklearn.semi_supervised import LabelSpreading
from vigia_serving.local import LocalServer

from tests.integration.serving.conftest import Sample, start_server
from tests.integration.serving.harness import metric
from vigia import metrics
from vigia.bundle import export_bundle, make_bundle
from vigia.features import validate_records
from vigia.onnx.parity import DEFAULT_THRESHOLD
from vigia.sample import NUMERIC_FEATURES, production_line, traffic_records

pytestmark = pytest.mark.integration


def test_onnx_runtime_answers_like_scikit_learn_with_monitoring_and_explain(
    tmp_path: Path, sample: Sample
) -> None:
    server = start_server(tmp_path, sample, f"sqlite:///{tmp_path}/p.db", VIGIA_RUNTIME="onnx")
    try:
        records, _ = traffic_records(40, seed=31)
        answer = httpx.post(server.url + "/predict", json={"rows": records}, timeout=30).json()
        explained = httpx.post(server.url + "/explain", json={"rows": records[:2]}, timeout=60)
        exposition = httpx.get(server.url + "/metrics", timeout=10).text
    finally:
        server.stop()
    classes = list(sample.bundle.metadata.classes)
    served = np.array([[p["probabilities"][c] for c in classes] for p in answer["predictions"]])
    frame = validate_records(sample.bundle.metadata.schema, records)
    assert np.abs(served - sample.bundle.predict_proba(frame)).max() <= DEFAULT_THRESHOLD
    assert explained.status_code == 200
    assert len(explained.json()["explanations"]) == 2
    assert metric(exposition, metrics.PREDICTIONS_SERIES) == 40
    assert "serving the ONNX form" in server.log.read_text()


def _unsupported_uri(work: Path) -> str:
    X, y = production_line(300, seed=2, missing_rate=0.0)
    X = X[list(NUMERIC_FEATURES)[:3]]
    bundle = make_bundle(LabelSpreading().fit(X, y), X, y, name="odd", version="1")
    uri = f"file://{work}/odd.bentomodel"
    export_bundle(bundle, uri, home=work / "home")
    return uri


def _env(uri: str, work: Path, runtime: str) -> dict[str, str]:
    return {
        "VIGIA_MODEL_URI": uri,
        "VIGIA_STORE_URL": f"sqlite:///{work}/p.db",
        "VIGIA_RUNTIME": runtime,
    }


def test_onnx_runtime_refuses_a_model_without_converter(tmp_path: Path) -> None:
    uri = _unsupported_uri(tmp_path)
    server = LocalServer(tmp_path, _env(uri, tmp_path, "onnx")).start()
    try:
        deadline = time.monotonic() + 90
        while "LabelSpreading has no ONNX converter" not in server.log.read_text():
            assert time.monotonic() < deadline, server.log.read_text()[-2000:]
            time.sleep(0.5)
        ready = httpx.get(server.url + "/readyz", timeout=5)
        predict = httpx.post(server.url + "/predict", json={"rows": [[1.0, 2.0, 3.0]]}, timeout=30)
    finally:
        server.stop()
    assert ready.status_code == 503
    assert predict.status_code == 503


def test_auto_runtime_falls_back_to_scikit_learn(tmp_path: Path) -> None:
    uri = _unsupported_uri(tmp_path)
    server = LocalServer(tmp_path, _env(uri, tmp_path, "auto")).start_ready()
    try:
        X, _ = production_line(3, seed=5, missing_rate=0.0)
        rows = X[list(NUMERIC_FEATURES)[:3]].to_numpy().tolist()
        predict = httpx.post(server.url + "/predict", json={"rows": rows}, timeout=30)
    finally:
        server.stop()
    assert predict.status_code == 200
    assert len(predict.json()["predictions"]) == 3
    assert "serving with scikit-learn because model: LabelSpreading" in server.log.read_text()
