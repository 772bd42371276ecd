"""The real server under faults, overload and hostile input: every resource bounded, every
refusal immediate, acknowledged feedback durable, nothing secret in an error body."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from sqlalchemy import insert, select
from vigia_serving.local import LocalServer
from vigia_serving.store import PredictionStore, feedback, predictions
from vigia_testbed.net import free_port

from tests.fixtures.postgres import new_database, postgres_server
from tests.integration.serving.conftest import STORES, Sample, start_server, store_url
from tests.integration.serving.harness import metric
from vigia import metrics
from vigia.sample import traffic_records

pytestmark = pytest.mark.integration

RECORDS, LABELS = traffic_records(200, seed=57)
SECRET = "s3cret-pass"


def one_row(i: int = 0) -> dict[str, Any]:
    return {"rows": [RECORDS[i % len(RECORDS)]]}


@pytest.fixture(scope="module")
def tight(sample: Sample, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """A server with small limits, so that tests can reach each of them."""
    work = tmp_path_factory.mktemp("tight")
    server = start_server(
        work, sample, f"sqlite:///{work}/p.db",
        VIGIA_MAX_BODY_BYTES="100000",
        VIGIA_MAX_CONCURRENCY="8",
        VIGIA_MAX_EXPLAIN_CONCURRENCY="1",
        VIGIA_MAX_EXPLAIN_ROWS="50",
        VIGIA_INLINE_PARSE_BYTES="2048",
        # Every request waits 100 ms for its batch to fill: long enough for a client
        # that gives up after 20 ms to be gone when its turn comes.
        VIGIA_BATCH_WAIT_MS="100",
        VIGIA_CHECK_GONE_AFTER_MS="50",
    )
    yield server
    server.stop()


def test_a_body_over_the_limit_is_refused_before_it_is_read(tight: LocalServer) -> None:
    async def endless() -> AsyncIterator[bytes]:  # chunked, no Content-Length
        yield b'{"rows": ['
        for _ in range(30):
            yield b'{"a": "' + b"x" * 4000 + b'"},'

    async def scenario() -> httpx.Response:
        async with httpx.AsyncClient(timeout=10) as client:
            return await client.post(
                tight.url + "/predict", content=endless(),
                headers={"content-type": "application/json"},
            )

    streamed = asyncio.run(scenario())
    assert streamed.status_code == 413
    assert streamed.json()["field"] == "body"
    big = b'{"rows": [' + b"1," * 60000 + b"1]}"
    response = httpx.post(tight.url + "/predict", content=big,
                          headers={"content-type": "application/json"}, timeout=10)
    assert (response.status_code, response.json()["field"]) == (413, "body")


def test_large_bodies_are_parsed_off_the_event_loop(tight: LocalServer) -> None:
    """Bodies above the inline size are still answered correctly (parsed in a thread)."""
    body = {"rows": RECORDS[:40]}
    response = httpx.post(tight.url + "/predict", json=body, timeout=30)
    assert response.status_code == 200, response.text
    assert len(response.json()["predictions"]) == 40
    bad = {"rows": [*RECORDS[:39], RECORDS[0] | {"shift": 3}]}
    refused = httpx.post(tight.url + "/predict", json=bad, timeout=30)
    assert (refused.status_code, refused.json()["field"]) == (422, "rows[39].shift")


async def _burst(url: str, path: str, bodies: list[Any], clients: int) -> list[httpx.Response]:
    async with httpx.AsyncClient(base_url=url, timeout=30,
                                 limits=httpx.Limits(max_connections=clients)) as client:
        return await asyncio.gather(*(client.post(path, json=b) for b in bodies))


def test_overload_is_shed_with_503_and_retry_after(tight: LocalServer) -> None:
    bodies = [{"rows": RECORDS[:20]} for _ in range(200)]
    responses = asyncio.run(_burst(tight.url, "/predict", bodies, clients=64))
    codes = {r.status_code for r in responses}
    assert codes <= {200, 503}, codes
    shed = [r for r in responses if r.status_code == 503]
    assert shed, "64 clients against a limit of 8 were never refused"
    assert all(r.headers["retry-after"] == "1" for r in shed)
    assert all("retry later" in r.json()["error"] for r in shed)
    assert sum(r.status_code == 200 for r in responses) >= 8
    text = httpx.get(tight.url + "/metrics").text
    assert metric(text, f"{metrics.REJECTED_REQUESTS}_total", reason="overload") >= len(shed)


def test_explanations_are_limited(tight: LocalServer) -> None:
    bodies = [{"rows": RECORDS[:50]} for _ in range(6)]
    responses = asyncio.run(_burst(tight.url, "/explain", bodies, clients=6))
    codes = [r.status_code for r in responses]
    assert set(codes) <= {200, 503}, codes
    assert 503 in codes and 200 in codes
    assert all(r.headers["retry-after"] for r in responses if r.status_code == 503)


def test_abandoned_requests_are_not_computed(tight: LocalServer) -> None:
    """Clients that give up before their turn: the server skips their work and still
    answers the next client at once."""

    gone = f"{metrics.REJECTED_REQUESTS}_total"
    before = metric(httpx.get(tight.url + "/metrics").text, gone, reason="client_gone")

    async def scenario() -> None:
        # Connected and sent at leisure; the answer awaited for 30 ms only.
        timeout = httpx.Timeout(30, read=0.03)
        async with httpx.AsyncClient(base_url=tight.url, timeout=timeout) as client:
            calls = [client.post("/predict", json=one_row(i)) for i in range(4)]
            results = await asyncio.gather(*calls, return_exceptions=True)
        assert all(isinstance(r, httpx.ReadTimeout) for r in results), results

    asyncio.run(scenario())
    response = httpx.post(tight.url + "/predict", json=one_row(), timeout=30)
    assert response.status_code == 200
    after = _wait_for(lambda: metric(httpx.get(tight.url + "/metrics").text, gone,
                                     reason="client_gone"), lambda v: v >= before + 4)
    assert after >= before + 4


def test_the_model_uri_is_retried_until_it_appears(
    sample: Sample, tmp_path_factory: pytest.TempPathFactory
) -> None:
    work = tmp_path_factory.mktemp("late-bundle")
    source = Path(sample.uri.removeprefix("file://"))
    target = work / "later" / "sobaos.bentomodel"
    env = {
        "VIGIA_MODEL_URI": f"file://{target}",
        "VIGIA_MODEL_DIGEST": sample.digest,
        "VIGIA_STORE_URL": f"sqlite:///{work}/p.db",
        "VIGIA_LOAD_RETRY_MAX_S": "2",
    }
    server = LocalServer(work, env).start()
    try:
        server.wait("/healthz")
        response = _wait_for(lambda: httpx.post(server.url + "/predict", json=one_row()),
                             lambda r: "could not be fetched" in r.text)
        assert response.status_code == 503
        assert str(target) not in response.text
        assert httpx.get(server.url + "/readyz").status_code == 503
        target.parent.mkdir()
        shutil.copy(source, target)
        server.wait("/readyz", timeout=30)
        assert httpx.post(server.url + "/predict", json=one_row()).status_code == 200
    finally:
        server.stop()


def test_a_store_unreachable_at_start_does_not_stop_serving(
    sample: Sample, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """No database at all from the start: the model still becomes ready and predicts,
    the log's health metric says 0, feedback answers 503 without the store's address."""
    work = tmp_path_factory.mktemp("no-db")
    port = free_port()
    url = f"postgresql+psycopg://vigia:{SECRET}@127.0.0.1:{port}/vigia?connect_timeout=2"
    server = LocalServer(work, {"VIGIA_MODEL_URI": sample.uri, "VIGIA_STORE_URL": url,
                                "VIGIA_NAMESPACE": "plant", "VIGIA_MODEL_NAME": "sobaos"})
    server.start_ready()
    try:
        made = _predict_ids(server, 3)
        sent = httpx.post(server.url + "/feedback",
                          json={"prediction_id": made[0], "label": LABELS[0]}, timeout=30)
        assert sent.status_code == 503
        for secret in (SECRET, "127.0.0.1", str(port), "postgresql"):
            assert secret not in sent.text
        assert httpx.get(server.url + "/readyz").status_code == 200
        text = _wait_for(lambda: httpx.get(server.url + "/metrics").text,
                         lambda t: _log_health(t) == (0.0, 3.0))
        assert metric(text, metrics.PREDICTION_LOG_UP, namespace="plant", model="sobaos") == 0
    finally:
        server.stop()


def _log_health(text: str) -> tuple[float, float]:
    return metric(text, metrics.PREDICTION_LOG_UP), metric(text, metrics.PREDICTION_LOG_BUFFERED)


def test_database_outage_keeps_serving_and_reports_it_in_the_metric(
    sample: Sample, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """PostgreSQL stops under a running server: /readyz stays 200 (every replica going
    unready at once would stop a model that can predict), predictions are answered and
    kept, vigia_prediction_log_up is 0 with the buffered rows counted, feedback answers
    503 without the address; when the database is back every acknowledged prediction
    reaches it and the metric is 1 again. A shutdown while it is down spills the buffer,
    and the next server writes it."""
    work = tmp_path_factory.mktemp("outage")
    home = str(work / "home")
    with postgres_server() as pg:
        url = new_database(pg.url)
        env = {"VIGIA_HOME": home, "VIGIA_SHUTDOWN_FLUSH_S": "1"}
        server = start_server(work, sample, url, **env)
        acked: list[str] = []
        try:
            acked += _predict_ids(server, 10)
            assert _wait_for(lambda: _log_health(httpx.get(server.url + "/metrics").text),
                             lambda h: h == (1.0, 0.0))
            pg.stop()
            acked += _predict_ids(server, 10)
            _wait_for(
                lambda: _log_health(httpx.get(server.url + "/metrics").text),
                lambda h: h[0] == 0.0 and h[1] >= 10)
            assert httpx.get(server.url + "/readyz").status_code == 200
            made = _predict_ids(server, 1)
            acked += made
            sent = httpx.post(server.url + "/feedback",
                              json={"prediction_id": made[0], "label": LABELS[0]}, timeout=30)
            assert sent.status_code == 503
            assert str(pg.port) not in sent.text and "127.0.0.1" not in sent.text
            pg.start()
            _wait_for(lambda: _log_health(httpx.get(server.url + "/metrics").text),
                      lambda h: h == (1.0, 0.0))
            assert set(acked) <= PredictionStore(url).prediction_ids()

            pg.stop()
            spilled = _predict_ids(server, 10)
            server.stop()
            assert list((work / "home" / "unflushed").glob("*.jsonl"))
            pg.start()
        finally:
            server.stop()
        again = start_server(work, sample, url, **env)
        try:
            _wait_for(lambda: PredictionStore(url).prediction_ids(),
                      lambda ids: set(spilled) <= ids)
        finally:
            again.stop()


@pytest.mark.parametrize("store", STORES)
def test_two_replicas_behind_a_round_robin_take_feedback_at_once(
    store: str, sample: Sample, request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Two server processes on one database; each prediction's feedback goes to the
    other replica right away, while the prediction may still be in the first's buffer."""
    work = tmp_path_factory.mktemp(f"replicas-{store}")
    url = store_url(store, work, request)
    replicas = [start_server(work / name, sample, url, VIGIA_FLUSH_INTERVAL_S="1")
                for name in ("a", "b")]

    async def scenario() -> list[int]:
        async with httpx.AsyncClient(timeout=30) as client:

            async def one(i: int) -> int:
                first, other = replicas[i % 2], replicas[(i + 1) % 2]
                made = await client.post(first.url + "/predict", json=one_row(i))
                pid = made.json()["predictions"][0]["prediction_id"]
                sent = await client.post(
                    other.url + "/feedback", json={"prediction_id": pid, "label": LABELS[i]}
                )
                return sent.status_code

            return await asyncio.gather(*(one(i) for i in range(30)))

    try:
        assert asyncio.run(scenario()) == [200] * 30
        unknown = httpx.post(replicas[0].url + "/feedback",
                             json={"prediction_id": "no-such-id", "label": LABELS[0]})
        assert unknown.status_code == 404
    finally:
        for replica in replicas:
            replica.stop()
    assert PredictionStore(url).count("feedback") == 30


@pytest.mark.parametrize("store", STORES)
def test_sigkill_under_load_keeps_every_acknowledged_feedback(
    store: str, sample: Sample, request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    work = tmp_path_factory.mktemp(f"sigkill-{store}")
    url = store_url(store, work, request)
    server = start_server(work, sample, url, VIGIA_FLUSH_INTERVAL_S="0.5")
    acked: list[str] = []

    async def client_loop(client: httpx.AsyncClient, k: int) -> None:
        i = k
        while True:
            try:
                made = await client.post("/predict", json=one_row(i))
                pid = made.json()["predictions"][0]["prediction_id"]
                sent = await client.post("/feedback",
                                         json={"prediction_id": pid, "label": LABELS[i % 200]})
            except (httpx.HTTPError, KeyError, ValueError):
                return
            if sent.status_code == 200:
                acked.append(pid)
            i += 16

    async def scenario() -> None:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            load = [asyncio.create_task(client_loop(client, k)) for k in range(16)]
            while len(acked) < 150:
                await asyncio.sleep(0.02)
            _kill_tree(server)
            await asyncio.gather(*load)

    try:
        asyncio.run(asyncio.wait_for(scenario(), timeout=180))
    finally:
        server.stop()
    stored = PredictionStore(url)
    with stored.engine.connect() as conn:
        labelled = set(conn.execute(select(feedback.c.prediction_id)).scalars())
    missing = set(acked) - labelled
    assert not missing, f"{len(missing)} of {len(acked)} acknowledged feedback lost"


@pytest.mark.parametrize("store", STORES)
def test_rows_older_than_the_retention_are_pruned(
    store: str, sample: Sample, request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    work = tmp_path_factory.mktemp(f"retention-{store}")
    url = store_url(store, work, request)
    seeded = PredictionStore(url)
    seeded.create_tables()
    old = datetime.now(UTC) - timedelta(days=10)
    with seeded.engine.begin() as conn:
        conn.execute(insert(predictions), [
            {"id": f"old-{i}", "created_at": old, "model": "sobaos", "version": "7",
             "track": "stable", "features": None, "predicted": "ok", "probabilities": {}}
            for i in range(5)
        ])
    seeded.engine.dispose()
    server = start_server(work, sample, url, VIGIA_LOG_RETENTION_DAYS="7")
    try:
        fresh = _predict_ids(server, 3)
        ids = _wait_for(lambda: PredictionStore(url).prediction_ids(),
                        lambda ids: set(fresh) <= ids and not any(i.startswith("old") for i in ids))
        assert set(fresh) <= ids
    finally:
        server.stop()


def _predict_ids(server: LocalServer, n: int) -> list[str]:
    ids = []
    for i in range(n):
        response = httpx.post(server.url + "/predict", json=one_row(i), timeout=30)
        assert response.status_code == 200, response.text
        ids.append(response.json()["predictions"][0]["prediction_id"])
    return ids


def _wait_for(get: Any, ok: Any, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = get()
        if ok(value):
            return value
        assert time.monotonic() < deadline, f"never reached; last: {value!r}"
        time.sleep(0.2)


def _kill_tree(server: LocalServer) -> None:
    """SIGKILL to the server and its workers at once: nothing runs a shutdown hook."""
    assert server.process is not None
    parent = psutil.Process(server.process.pid)
    for process in [*parent.children(recursive=True), parent]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGKILL)
