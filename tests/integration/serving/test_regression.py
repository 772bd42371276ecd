"""A regressor's bundle on the real model server over HTTP (SQLite and PostgreSQL): values
with their interval, feedback with true values (duplicates, conflicts, refusals), the error
sums and the output's deciles in /metrics, /explain towards the value, the OpenAPI document,
and two replicas whose error sums add up to the errors of every prediction they made."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from vigia_serving.local import LocalServer

from tests.integration.serving.conftest import STORES, Sample, start_server, store_url
from tests.integration.serving.harness import metric
from vigia import metrics
from vigia.bundle import export_bundle
from vigia.sample import WEIGHT, WEIGHT_TOLERANCE_KG, train_weight_model, weight_traffic_records
from vigia.traffic import send

pytestmark = pytest.mark.integration

LABELS = {"model": "weights", "version": "3", "track": "stable"}


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Sample:
    work = tmp_path_factory.mktemp("weights")
    bundle = train_weight_model(rows=1500, seed=2, name="weights", version="3")
    uri = f"file://{work}/weights.bentomodel"
    return Sample(bundle, uri, export_bundle(bundle, uri, home=work / "home"))


@pytest.fixture(scope="module", params=STORES)
def replicas(
    request: pytest.FixtureRequest, weights: Sample, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[LocalServer]]:
    """Two servers of the regressor over one store, as two replicas of a Deployment."""
    work = tmp_path_factory.mktemp(f"weights-{request.param}")
    url = store_url(request.param, work, request)
    env = {"VIGIA_TRACK": "stable", "VIGIA_ERROR_TOLERANCE": str(WEIGHT_TOLERANCE_KG)}
    servers: list[LocalServer] = []
    try:
        for name in ("a", "b"):
            (work / name).mkdir()
            servers.append(start_server(work / name, weights, url, **env))
        yield servers
    finally:
        for server in servers:
            server.stop()


def post(server: LocalServer, path: str, body: Any) -> httpx.Response:
    return httpx.post(server.url + path, json=body, timeout=60)


def test_values_feedback_and_error_sums_across_replicas(
    replicas: list[LocalServer], weights: Sample
) -> None:
    before = [httpx.get(s.url + "/metrics").text for s in replicas]
    made, truth = [], []
    for seed, server in zip((41, 42), replicas, strict=True):
        rows, true = weight_traffic_records(40, seed=seed, drift=1.0)
        answer = post(server, "/predict", {"rows": rows})
        assert answer.status_code == 200, answer.text
        predictions = answer.json()["predictions"]
        frame = pd.DataFrame(rows)[list(weights.bundle.metadata.schema.names)]
        np.testing.assert_allclose([p["value"] for p in predictions],
                                   weights.bundle.predict_values(frame))
        width = weights.bundle.metadata.training_metrics["interval_halfwidth"]
        assert predictions[0]["interval"]["upper"] == pytest.approx(predictions[0]["value"] + width)
        made += predictions
        truth += true
    # Each replica gets the other's feedback too: whoever predicted is credited.
    half = len(made) // 2
    items = [{"prediction_id": p["prediction_id"], "value": v} for p, v in zip(made, truth,
                                                                                strict=True)]
    for server, part in ((replicas[1], items[:half]), (replicas[0], items[half:])):
        stored = post(server, "/feedback", part)
        assert stored.status_code == 200, stored.text
        assert all(f["stored"] for f in stored.json()["feedback"])
    errors = np.array(truth) - np.array([p["value"] for p in made])
    after = [httpx.get(s.url + "/metrics").text for s in replicas]

    def grown(name: str, **labels: str) -> float:
        return sum(metric(a, name, **LABELS, **labels) - metric(b, name, **LABELS, **labels)
                   for a, b in zip(after, before, strict=True))

    assert grown(metrics.FEEDBACK_ABSOLUTE_ERROR_SERIES) == pytest.approx(np.abs(errors).sum())
    assert grown(metrics.FEEDBACK_SQUARED_ERROR_SERIES) == pytest.approx((errors**2).sum())
    assert grown(metrics.FEEDBACK_LABELLED_SERIES) == len(made)
    beyond = int((np.abs(errors) > WEIGHT_TOLERANCE_KG).sum())
    assert 0 < beyond < len(made)
    assert grown(metrics.FEEDBACK_SERIES, outcome="incorrect") == beyond
    assert grown(metrics.FEEDBACK_SERIES, outcome="correct") == len(made) - beyond
    deciles = [grown(metrics.PREDICTIONS_SERIES, **{"class": str(b)}) for b in range(10)]
    assert sum(deciles) == len(made)
    assert metric(after[0], metrics.CLASS_PRIOR, **LABELS, **{"class": "9"}) == pytest.approx(0.1)


def test_feedback_refusals_name_the_field(replicas: list[LocalServer]) -> None:
    server = replicas[0]
    rows, truth = weight_traffic_records(1, seed=43)
    pid = post(server, "/predict", {"rows": rows}).json()["predictions"][0]["prediction_id"]
    assert post(server, "/feedback", {"prediction_id": pid, "value": truth[0]}).status_code == 200
    again = post(server, "/feedback", {"prediction_id": pid, "value": truth[0]})
    assert again.json() == {"feedback": [{"prediction_id": pid, "stored": False}]}
    conflict = post(server, "/feedback", {"prediction_id": pid, "value": truth[0] + 10})
    assert conflict.status_code == 409 and conflict.json()["field"] == "value"
    label = post(server, "/feedback", {"prediction_id": pid, "label": "good"})
    assert label.status_code == 422 and label.json()["field"] == "label"
    assert "regressor" in label.json()["error"]


def test_explain_and_openapi_speak_of_values(replicas: list[LocalServer]) -> None:
    server = replicas[1]
    rows, _ = weight_traffic_records(2, seed=44)
    rows = [{**r, "ambient_temperature": 21.0} for r in rows]
    explained = post(server, "/explain", {"rows": rows})
    assert explained.status_code == 200, explained.text
    for row in explained.json()["explanations"]:
        assert row["base_value"] + sum(row["attributions"].values()) == pytest.approx(
            row["value"], abs=1e-6)
    document = httpx.get(server.url + "/openapi.json").json()
    item = document["paths"]["/feedback"]["post"]["requestBody"]["content"][
        "application/json"]["schema"]["oneOf"][0]
    assert item["required"] == ["prediction_id", "value"]


def test_tolerance_defaults_to_the_bundles(weights: Sample, tmp_path: Path) -> None:
    server = start_server(tmp_path, weights, f"sqlite:///{tmp_path}/p.db",
                          VIGIA_TRACK="stable")
    try:
        rows, truth = weight_traffic_records(30, seed=45)
        made = post(server, "/predict", {"rows": rows}).json()["predictions"]
        post(server, "/feedback", [{"prediction_id": p["prediction_id"], "value": v}
                                   for p, v in zip(made, truth, strict=True)])
        text = httpx.get(server.url + "/metrics").text
    finally:
        server.stop()
    p90 = weights.bundle.metadata.training_metrics["abs_error_p90"]
    errors = np.abs(np.array(truth) - np.array([p["value"] for p in made]))
    assert metric(text, metrics.FEEDBACK_SERIES, outcome="incorrect") == int((errors > p90).sum())


def test_the_sample_sender_sends_values_back(replicas: list[LocalServer]) -> None:
    sent = send(replicas[0].url, 60, seed=46, drift=0.0, kind=WEIGHT, batch=20).as_dict()
    assert (sent["rows"], sent["feedback"], sent["errors"]) == (60, 60, 0)
    (scored,) = sent["byVersion"].values()
    assert 0 < scored["mae"] < WEIGHT_TOLERANCE_KG and scored["accuracy"] > 0.8
