"""The real model server over HTTP, on SQLite and PostgreSQL: feedback given as right/wrong
instead of a label (two classes and three), the labelling queue, the labelled count; and a
store written by an older server, migrated."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from sqlalchemy import create_engine, inspect, select, text
from vigia_serving.local import LocalServer
from vigia_serving.store import (
    QUEUE_INDEX,
    FeedbackItem,
    PredictionRecord,
    PredictionStore,
    feedback,
)

from tests.integration.serving.conftest import STORES, Sample, start_server, store_url
from tests.integration.serving.harness import metric
from vigia import metrics
from vigia.bundle import export_bundle, make_bundle
from vigia.sample import production_line, sample_pipeline, traffic_records

pytestmark = pytest.mark.integration

CANARY = {"model": "sobaos", "version": "7", "track": "canary"}


def post(server: LocalServer, path: str, body: Any) -> httpx.Response:
    return httpx.post(server.url + path, json=body, timeout=30)


def pending(server: LocalServer, **params: str | int) -> httpx.Response:
    return httpx.get(server.url + "/feedback/pending", params=params, timeout=30)


def predict(server: LocalServer, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    response = post(server, "/predict", {"rows": records})
    assert response.status_code == 200, response.text
    made: list[dict[str, Any]] = response.json()["predictions"]
    return made


def stored(url: str, ids: list[str]) -> dict[str, tuple[str | None, bool]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(feedback.c.prediction_id, feedback.c.label, feedback.c.correct)
                .where(feedback.c.prediction_id.in_(ids))
            ).all()
    finally:
        engine.dispose()
    return {pid: (label, bool(correct)) for pid, label, correct in rows}


def queued(server: LocalServer, ids: set[str], **params: str | int) -> list[dict[str, Any]]:
    """The queue's answer once every id in ``ids`` has been flushed to the log."""
    deadline = time.monotonic() + 30
    while True:
        response = pending(server, **params)
        assert response.status_code == 200, response.text
        rows: list[dict[str, Any]] = response.json()["pending"]
        if ids <= {r["prediction_id"] for r in rows}:
            return rows
        assert time.monotonic() < deadline, "predictions not in the queue after 30 s"
        time.sleep(0.2)


def test_right_or_wrong_of_two_classes_stores_the_implied_class(
    served: tuple[LocalServer, str],
) -> None:
    server, url = served
    before = httpx.get(server.url + "/metrics").text
    right, wrong, labelled = predict(server, traffic_records(3, seed=31)[0])
    answer = post(server, "/feedback", [
        {"prediction_id": right["prediction_id"], "correct": True},
        {"prediction_id": wrong["prediction_id"], "correct": False},
        {"prediction_id": labelled["prediction_id"], "label": labelled["class"]},
    ])
    assert answer.status_code == 200, answer.text
    assert [f["stored"] for f in answer.json()["feedback"]] == [True, True, True]
    other = {"good": "defective", "defective": "good"}
    assert stored(url, [p["prediction_id"] for p in (right, wrong, labelled)]) == {
        right["prediction_id"]: (right["class"], True),
        wrong["prediction_id"]: (other[wrong["class"]], False),
        labelled["prediction_id"]: (labelled["class"], True),
    }
    again = post(server, "/feedback", {"prediction_id": wrong["prediction_id"],
                                       "label": other[wrong["class"]]})
    assert again.status_code == 200 and again.json()["feedback"][0]["stored"] is False
    after = httpx.get(server.url + "/metrics").text

    def delta(name: str, **labels: str) -> float:
        return metric(after, name, **CANARY, **labels) - metric(before, name, **CANARY, **labels)

    assert delta(metrics.FEEDBACK_SERIES, outcome="correct") == 2
    assert delta(metrics.FEEDBACK_SERIES, outcome="incorrect") == 1
    assert delta(metrics.FEEDBACK_LABELLED_SERIES) == 3
    assert delta(metrics.CONFUSION_SERIES, actual=other[wrong["class"]]) >= 1


def test_feedback_kinds_refused_naming_the_field(served: tuple[LocalServer, str]) -> None:
    server, _ = served
    [made] = predict(server, traffic_records(1, seed=32)[0])
    pid = made["prediction_id"]
    cases = [
        ({"prediction_id": pid, "label": made["class"], "correct": True}, 422, "correct"),
        ({"prediction_id": pid}, 422, "label"),
        ({"prediction_id": pid, "correct": "no"}, 422, "correct"),
        ([{"prediction_id": pid, "correct": True}, {"prediction_id": pid}], 422, "[1].label"),
        ({"prediction_id": "no-such-id", "correct": True}, 404, "prediction_id"),
    ]
    for body, status, field in cases:
        refused = post(server, "/feedback", body)
        assert (refused.status_code, refused.json()["field"]) == (status, field), body
    assert post(server, "/feedback", {"prediction_id": pid, "correct": True}).status_code == 200
    conflict = post(server, "/feedback", {"prediction_id": pid, "correct": False})
    assert (conflict.status_code, conflict.json()["field"]) == (409, "correct")


def test_the_queue_lists_unlabelled_predictions_least_sure_first(
    served: tuple[LocalServer, str],
) -> None:
    server, url = served
    records = traffic_records(30, seed=33)[0]
    made = predict(server, records)
    ids = {p["prediction_id"] for p in made}
    done = made[:5]
    assert post(server, "/feedback", [{"prediction_id": p["prediction_id"], "correct": True}
                                      for p in done]).status_code == 200
    # Another model and another namespace in the same store: never in this server's queue.
    foreign = PredictionStore(url)
    foreign.create_tables()
    foreign.log([
        PredictionRecord("other-model", datetime.now(UTC), "croissants", "1", "stable",
                         None, "good", {"good": 0.5, "defective": 0.5}, "default"),
        PredictionRecord("other-namespace", datetime.now(UTC), "sobaos", "7", "stable",
                         None, "good", {"good": 0.5, "defective": 0.5}, "elsewhere"),
    ])
    foreign.flush()
    foreign.engine.dispose()
    waiting = ids - {p["prediction_id"] for p in done}
    rows = queued(server, waiting, limit=50)
    listed = [r["prediction_id"] for r in rows]
    assert not {p["prediction_id"] for p in done} & set(listed)
    assert not {"other-model", "other-namespace"} & set(listed)
    confidences = [r["confidence"] for r in rows]
    assert confidences == sorted(confidences)
    by_id = {p["prediction_id"]: (p, r) for p, r in zip(made, records, strict=True)}
    for row in rows:
        if row["prediction_id"] in by_id:
            sent, inputs = by_id[row["prediction_id"]]
            assert row["inputs"] == inputs and row["class"] == sent["class"]
            assert row["confidence"] == pytest.approx(max(sent["probabilities"].values()))
            assert (row["version"], row["track"]) == ("7", "canary")
    first = pending(server, limit=1).json()["pending"]
    assert [r["prediction_id"] for r in first] == listed[:1]
    sample = pending(server, limit=5, order="random").json()
    assert sample["order"] == "random" and len(sample["pending"]) == 5
    assert not {p["prediction_id"] for p in done} & {r["prediction_id"] for r in sample["pending"]}


@pytest.mark.parametrize(
    ("params", "field"),
    [({"limit": "0"}, "limit"), ({"limit": "51"}, "limit"), ({"limit": "x"}, "limit"),
     ({"order": "sure"}, "order"), ({"sort": "random"}, "sort")],
)
def test_bad_queue_parameters_are_named(
    served: tuple[LocalServer, str], params: dict[str, str], field: str,
) -> None:
    server, _ = served
    refused = pending(server, **params)  # VIGIA_MAX_REQUEST_ROWS is 50 in these servers
    assert (refused.status_code, refused.json()["field"]) == (422, field)


THREE = ("good", "defective", "burnt")


@pytest.fixture(scope="module", params=STORES)
def three_classes(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[LocalServer, str]]:
    """A server of a model of three classes (a burnt cake besides good and defective)."""
    work = tmp_path_factory.mktemp(f"three-{request.param}")
    X, y = production_line(1200, seed=2)
    hot = X["oven_temperature"].to_numpy() > np.nanquantile(X["oven_temperature"], 0.8)
    y3 = np.where(hot, "burnt", y.astype(str))
    bundle = make_bundle(sample_pipeline(2).fit(X, y3), X, y3, name="sobaos", version="7")
    uri = f"file://{work}/three.bentomodel"
    digest = export_bundle(bundle, uri, home=work / "home")
    url = store_url(request.param, work, request)
    server = start_server(work, Sample(bundle, uri, digest), url)
    yield server, url
    server.stop()


def test_wrong_among_three_classes_counts_and_its_class_may_come_later(
    three_classes: tuple[LocalServer, str],
) -> None:
    server, url = three_classes
    before = httpx.get(server.url + "/metrics").text
    [made] = predict(server, traffic_records(1, seed=34)[0])
    pid = made["prediction_id"]
    wrong = post(server, "/feedback", {"prediction_id": pid, "correct": False})
    assert wrong.status_code == 200, wrong.text
    assert stored(url, [pid]) == {pid: (None, False)}
    middle = httpx.get(server.url + "/metrics").text
    actual = next(c for c in THREE if c != made["class"])
    later = post(server, "/feedback", {"prediction_id": pid, "label": actual})
    assert later.status_code == 200 and later.json()["feedback"][0]["stored"] is True
    assert stored(url, [pid]) == {pid: (actual, False)}
    contradicted = post(server, "/feedback", {"prediction_id": pid, "label": made["class"]})
    assert (contradicted.status_code, contradicted.json()["field"]) == (409, "label")
    after = httpx.get(server.url + "/metrics").text

    def moved(then: str, now: str, name: str, **labels: str) -> float:
        return metric(now, name, **CANARY, **labels) - metric(then, name, **CANARY, **labels)

    assert moved(before, middle, metrics.FEEDBACK_SERIES, outcome="incorrect") == 1
    assert moved(before, middle, metrics.FEEDBACK_LABELLED_SERIES) == 0
    assert moved(before, middle, metrics.CONFUSION_SERIES) == 0
    assert moved(middle, after, metrics.FEEDBACK_SERIES) == 0
    assert moved(middle, after, metrics.FEEDBACK_LABELLED_SERIES) == 1
    assert moved(middle, after, metrics.CONFUSION_SERIES, actual=actual,
                 predicted=made["class"]) == 1


OLD_TABLES = {
    "sqlite": ("DATETIME", "JSON"),
    "postgres": ("TIMESTAMP WITH TIME ZONE", "JSON"),
}


@pytest.mark.parametrize("kind", STORES)
def test_a_store_of_an_older_server_is_migrated(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest,
) -> None:
    """Tables as a server before this change wrote them: labels that may not be null, no
    ``correct``, no confidence. A new server's store keeps their rows, fills ``correct``
    in, and takes "wrong" without a label."""
    url = store_url(kind, tmp_path, request)
    when, json = OLD_TABLES[kind]
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(
            f"CREATE TABLE vigia_predictions (id VARCHAR(64) PRIMARY KEY, created_at {when} "
            "NOT NULL, namespace VARCHAR(253) NOT NULL DEFAULT '', model VARCHAR(128) NOT NULL, "
            f"version VARCHAR(64) NOT NULL, track VARCHAR(16) NOT NULL, features {json}, "
            f"predicted VARCHAR(256) NOT NULL, probabilities {json} NOT NULL)"))
        conn.execute(text(
            "CREATE TABLE vigia_feedback (prediction_id VARCHAR(64) NOT NULL PRIMARY KEY "
            "REFERENCES vigia_predictions (id), label VARCHAR(256) NOT NULL, "
            f"received_at {when} NOT NULL)"))
        conn.execute(text("CREATE INDEX ix_vigia_feedback_received_at "
                          "ON vigia_feedback (received_at)"))
        for pid, label in (("right", "good"), ("wrong", "burnt"), ("open", None)):
            conn.execute(text(
                "INSERT INTO vigia_predictions VALUES (:id, '2026-01-01 00:00:00+00', 'prod', "
                "'m', '1', 'stable', NULL, 'good', :p)"),
                {"id": pid, "p": '{"good": 0.5, "defective": 0.3, "burnt": 0.2}'})
            if label:
                conn.execute(text("INSERT INTO vigia_feedback VALUES (:id, :label, "
                                  "'2026-01-01 00:00:01+00')"), {"id": pid, "label": label})
    engine.dispose()
    store = PredictionStore(url, namespace="prod", model="m")
    try:
        store.create_tables()
        store.create_tables()  # a second replica: nothing left to do
        assert stored(url, ["right", "wrong"]) == {"right": ("good", True),
                                                   "wrong": ("burnt", False)}
        store.log([PredictionRecord("new", datetime.now(UTC), "m", "1", "stable", None, "good",
                                    {"good": 0.6, "defective": 0.3, "burnt": 0.1}, "prod")])
        [result] = store.record_feedback([FeedbackItem("new", correct=False)])
        assert result.label is None and stored(url, ["new"]) == {"new": (None, False)}
        with store.engine.connect() as conn:
            indexes = {i["name"] for i in inspect(conn).get_indexes("vigia_predictions")}
        assert QUEUE_INDEX in indexes
        assert [p.id for p in store.pending(5)] == ["open"]
    finally:
        store.engine.dispose()
