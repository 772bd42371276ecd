"""The real model server over HTTP: predict, feedback, explain, metrics, refusals, store."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import numpy as np
import orjson
import pandas as pd
import pytest
from vigia_serving.local import LocalServer
from vigia_serving.store import PredictionStore, feedback, predictions

from tests.integration.serving.conftest import Sample
from tests.integration.serving.harness import metric
from vigia import metrics
from vigia.sample import traffic_records

pytestmark = pytest.mark.integration

CANARY = {"model": "sobaos", "version": "7", "track": "canary"}


def rows(n: int, seed: int = 11) -> list[dict[str, Any]]:
    records, _ = traffic_records(n, seed=seed)
    return records


def post(server: LocalServer, path: str, body: Any = None, content: bytes | None = None) -> Any:
    if content is not None:
        headers = {"content-type": "application/json"}
        return httpx.post(server.url + path, content=content, headers=headers, timeout=30)
    return httpx.post(server.url + path, json=body, timeout=30)


def predict(server: LocalServer, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    response = post(server, "/predict", {"rows": records})
    assert response.status_code == 200, response.text
    predictions: list[dict[str, Any]] = response.json()["predictions"]
    return predictions


def expected(sample: Sample, records: list[dict[str, Any]]) -> np.ndarray:
    frame = pd.DataFrame(records)[list(sample.bundle.metadata.schema.names)]
    return sample.bundle.predict_proba(frame)


def test_probes(served: tuple[LocalServer, str]) -> None:
    server, _ = served
    assert httpx.get(server.url + "/healthz").status_code == 200
    assert httpx.get(server.url + "/readyz").status_code == 200
    assert "/predict" in httpx.get(server.url + "/openapi.json").json()["paths"]
    assert "swagger" in httpx.get(server.url + "/docs").text.lower()


def test_the_browser_page_is_off_unless_enabled(served: tuple[LocalServer, str]) -> None:
    """The page hands the model itself (model.onnx, model.json with the training ranges)
    to whoever reaches the server: without VIGIA_BROWSER_PAGE=true nothing of it is served
    (the browser tier, tests/integration/browser, turns it on)."""
    server, _ = served
    for path in ("/app/", "/app/index.html", "/app/model.onnx", "/app/model.json",
                 "/app/ort/ort.wasm.min.js"):
        response = httpx.get(server.url + path, timeout=30)
        assert response.status_code == 404, (path, response.status_code)
    assert httpx.get(server.url + "/healthz").status_code == 200


def test_predict_records_one_and_many(served: tuple[LocalServer, str], sample: Sample) -> None:
    server, _ = served
    records = rows(5)
    response = post(server, "/predict", {"rows": records[:1]}).json()
    assert (response["model"], response["version"]) == ("sobaos", "7")
    [one] = response["predictions"]
    assert one["class"] in sample.bundle.metadata.classes
    assert sum(one["probabilities"].values()) == pytest.approx(1.0)
    assert len(one["prediction_id"]) >= 20
    many = predict(server, records)
    assert len({p["prediction_id"] for p in many}) == 5
    got = np.array([[p["probabilities"][c] for c in sample.bundle.metadata.classes] for p in many])
    np.testing.assert_allclose(got, expected(sample, records), atol=1e-9)


def test_predict_arrays_equal_records(served: tuple[LocalServer, str]) -> None:
    server, _ = served
    records = [r for r in rows(8, seed=3) if None not in r.values()]
    arrays = [list(r.values()) for r in records]
    by_array = predict_body(server, {"rows": arrays})
    by_record = predict_body(server, {"rows": records})
    assert [p["probabilities"] for p in by_array] == [p["probabilities"] for p in by_record]


def predict_body(server: LocalServer, body: dict[str, Any]) -> list[dict[str, Any]]:
    response = post(server, "/predict", body)
    assert response.status_code == 200, response.text
    return list(response.json()["predictions"])


def test_concurrent_single_rows_each_get_their_own_answer(
    served: tuple[LocalServer, str], sample: Sample
) -> None:
    server, _ = served
    records = rows(256, seed=21)

    async def run() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=64)
        async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=60) as client:
            return await asyncio.gather(
                *(client.post("/predict", json={"rows": [r]}) for r in records)
            )

    responses = asyncio.run(run())
    assert {r.status_code for r in responses} == {200}
    classes = sample.bundle.metadata.classes
    got = np.array(
        [[r.json()["predictions"][0]["probabilities"][c] for c in classes] for r in responses]
    )
    np.testing.assert_allclose(got, expected(sample, records), atol=1e-9)


def test_feedback_lifecycle(served: tuple[LocalServer, str]) -> None:
    server, _ = served
    first, second = predict(server, rows(2, seed=5))
    pid = first["prediction_id"]
    ok = post(server, "/feedback", {"prediction_id": pid, "label": "good"})
    assert ok.status_code == 200 and ok.json()["feedback"][0]["stored"] is True
    again = post(server, "/feedback", {"prediction_id": pid, "label": "good"})
    assert again.status_code == 200 and again.json()["feedback"][0]["stored"] is False
    conflict = post(server, "/feedback", {"prediction_id": pid, "label": "defective"})
    assert (conflict.status_code, conflict.json()["field"]) == (409, "label")
    unknown = post(server, "/feedback", {"prediction_id": "no-such-id", "label": "good"})
    assert (unknown.status_code, unknown.json()["field"]) == (404, "prediction_id")
    not_class = post(server, "/feedback", {"prediction_id": pid, "label": "burnt"})
    assert (not_class.status_code, not_class.json()["field"]) == (422, "label")
    batch = [
        {"prediction_id": second["prediction_id"], "label": "defective"},
        {"prediction_id": "no-such-id", "label": "good"},
    ]
    refused = post(server, "/feedback", batch)
    assert (refused.status_code, refused.json()["field"]) == (404, "[1].prediction_id")
    stored = post(server, "/feedback", [*batch[:1], {"prediction_id": pid, "label": "good"}])
    assert [f["stored"] for f in stored.json()["feedback"]] == [True, False]


def test_feedback_is_durable_once_acknowledged(served: tuple[LocalServer, str]) -> None:
    server, url = served
    [p] = predict(server, rows(1, seed=8))
    response = post(server, "/feedback", {"prediction_id": p["prediction_id"], "label": "good"})
    assert response.status_code == 200
    store = PredictionStore(url)
    try:
        with store.engine.connect() as conn:
            labels = conn.execute(
                feedback.select().where(feedback.c.prediction_id == p["prediction_id"])
            ).all()
        assert [row.label for row in labels] == ["good"]
    finally:
        store.engine.dispose()


def test_predictions_are_logged_with_features(served: tuple[LocalServer, str]) -> None:
    server, url = served
    records = rows(3, seed=13)
    ids = {p["prediction_id"] for p in predict(server, records)}
    store = PredictionStore(url)
    try:
        deadline = time.monotonic() + 30
        while not ids <= store.prediction_ids():
            assert time.monotonic() < deadline, "predictions not logged in 30 s"
            time.sleep(0.2)
        with store.engine.connect() as conn:
            logged = conn.execute(
                predictions.select().where(predictions.c.id.in_(ids))
            ).all()
        assert {(r.version, r.track, r.model) for r in logged} == {("7", "canary", "sobaos")}
        assert sorted(r.features["oven_temperature"] for r in logged) == sorted(
            r["oven_temperature"] for r in records
        )
    finally:
        store.engine.dispose()


def test_explain_attributions_add_up(served: tuple[LocalServer, str]) -> None:
    server, _ = served
    response = post(server, "/explain", {"rows": rows(3, seed=4)})
    assert response.status_code == 200, response.text
    for row in response.json()["explanations"]:
        assert set(row["attributions"]) >= {"oven_temperature", "shift", "flour_supplier"}
        total = row["base_value"] + sum(row["attributions"].values())
        assert total == pytest.approx(row["probability"], abs=1e-6)


def test_metrics_move(served: tuple[LocalServer, str]) -> None:
    server, _ = served
    before = httpx.get(server.url + "/metrics").text
    records = rows(40, seed=17)
    records[0]["ambient_temperature"] = None
    records[1]["oven_temperature"] = 900.0
    made = predict(server, records)
    post(server, "/feedback", [{"prediction_id": p["prediction_id"], "label": "defective"}
                               for p in made[:4]])
    refused = post(server, "/predict", {"rows": [{"oven_temperature": 1}]})
    after = httpx.get(server.url + "/metrics").text

    def delta(name: str, **labels: str) -> float:
        return metric(after, name, **CANARY, **labels) - metric(before, name, **CANARY, **labels)

    assert delta(metrics.PREDICTIONS_SERIES) == 40
    assert delta(f"{metrics.CONFIDENCE}_count") == 40
    assert delta(metrics.FEATURE_BIN_SERIES, feature="oven_temperature") == 40
    assert delta(metrics.FEATURE_BIN_SERIES, feature="shift") == 40
    assert delta(metrics.FEATURE_MISSING_SERIES, feature="ambient_temperature") >= 1
    assert delta(metrics.FEATURE_OUT_OF_RANGE_SERIES, feature="oven_temperature") >= 1
    assert delta(metrics.FEEDBACK_SERIES) == 4
    assert delta(metrics.CONFUSION_SERIES, actual="defective") == 4
    assert delta(f"{metrics.REJECTED_REQUESTS}_total", reason="invalid_input") == 1
    # The server labels its own request series: the canary's error and latency gates need
    # no relabelling by the scrape.
    assert delta(metrics.REQUESTS_SERIES, endpoint="/predict", code="200") == 1
    assert refused.is_client_error
    assert delta(metrics.REQUESTS_SERIES, endpoint="/predict",
                 code=str(refused.status_code)) == 1
    assert delta(metrics.REQUESTS_SERIES, endpoint="/feedback", code="200") == 1
    assert delta(f"{metrics.REQUEST_DURATION}_count", endpoint="/predict") == 2


RECORD = rows(1, seed=99)[0] | {"ambient_temperature": 21.0}

BAD_INPUTS: list[tuple[str, bytes | dict[str, Any] | list[Any], int, str]] = [
    ("empty body", b"", 400, "body"),
    ("malformed JSON", b'{"rows": [', 400, "body"),
    ("NaN is not JSON", b'{"rows": [{"oven_temperature": NaN}]}', 400, "body"),
    ("not an object", [1, 2], 400, "body"),
    ("no rows", {}, 422, "rows"),
    ("rows not a list", {"rows": {"a": 1}}, 422, "rows"),
    ("no rows at all", {"rows": []}, 422, "rows"),
    ("unknown top-level field", {"rows": [RECORD], "limit": 3}, 422, "limit"),
    ("missing feature", {"rows": [{k: v for k, v in RECORD.items() if k != "shift"}]},
     422, "rows[0].shift"),
    ("unknown feature", {"rows": [RECORD | {"colour": "gold"}]}, 422, "rows[0].colour"),
    ("wrong type", {"rows": [RECORD, RECORD | {"baking_minutes": "long"}]},
     422, "rows[1].baking_minutes"),
    ("null where not nullable", {"rows": [RECORD | {"oven_temperature": None}]},
     422, "rows[0].oven_temperature"),
    ("unknown category", {"rows": [RECORD | {"flour_supplier": "acme"}]},
     422, "rows[0].flour_supplier"),
    ("array of wrong length", {"rows": [[1.0, 2.0]]}, 422, "rows[0]"),
    ("oversized batch", {"rows": [RECORD] * 51}, 413, "rows"),
    ("duplicate key", b'{"rows": [], "rows": [{}]}', 400, "body"),
    ("duplicate feature", b'{"rows": [{"shift": "night", "shift": "day"}]}', 400, "body"),
    ("number beyond the float range", b'{"rows": [[' + b"9" * 400 + b"]]}", 400, "body"),
    ("too large for the model (float32)", {"rows": [RECORD | {"oven_temperature": 1e39}]},
     422, "rows[0].oven_temperature"),
]


@pytest.mark.parametrize(("body", "status", "field"), [b[1:] for b in BAD_INPUTS],
                         ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_is_refused_naming_the_field(
    served: tuple[LocalServer, str], body: Any, status: int, field: str
) -> None:
    server, _ = served
    for path in ("/predict", "/explain"):
        if isinstance(body, bytes):
            response = post(server, path, content=body)
        else:
            response = post(server, path, body)
        assert (response.status_code, response.json().get("field")) == (status, field), path
        assert response.json()["error"]


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_a_body_not_declared_json_is_refused(
    served: tuple[LocalServer, str], content_type: str | None
) -> None:
    server, _ = served
    body = orjson.dumps({"rows": [RECORD]})
    headers = {"content-type": content_type} if content_type else {}
    for path in ("/predict", "/explain", "/feedback"):
        response = httpx.post(server.url + path, content=body, headers=headers, timeout=30)
        assert response.status_code == 415, path
        assert response.json()["field"] == "content-type"


def test_json_with_charset_is_taken(served: tuple[LocalServer, str]) -> None:
    server, _ = served
    response = httpx.post(
        server.url + "/predict", content=orjson.dumps({"rows": [RECORD]}),
        headers={"content-type": "application/json; charset=utf-8"}, timeout=30,
    )
    assert response.status_code == 200, response.text
