"""Start-up and shutdown of the real server: readiness, and the prediction log on SIGTERM."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import httpx
import pytest
from vigia_serving.local import ADDRESS_IN_USE, HOST, LocalServer
from vigia_serving.store import PredictionStore

from tests.integration.serving.conftest import STORES, Sample, start_server, store_url
from vigia.sample import traffic_records

pytestmark = pytest.mark.integration


def test_not_ready_while_the_bundle_cannot_be_loaded(
    sample: Sample, tmp_path_factory: pytest.TempPathFactory
) -> None:
    work = tmp_path_factory.mktemp("wrong-digest")
    env = {
        "VIGIA_MODEL_URI": sample.uri,
        "VIGIA_MODEL_DIGEST": "sha256:" + "0" * 64,
        "VIGIA_STORE_URL": f"sqlite:///{work}/p.db",
    }
    server = LocalServer(work, env).start()
    try:
        server.wait("/healthz")
        deadline = time.monotonic() + 20
        while "expected digest" not in httpx.post(server.url + "/predict", json={}).text:
            assert time.monotonic() < deadline, "the load failure was never reported"
            time.sleep(0.2)
        assert httpx.get(server.url + "/readyz").status_code == 503
        response = httpx.post(server.url + "/predict", json={"rows": []})
        assert response.status_code == 503
        assert response.headers["retry-after"]
        # The reason, without the URI or anything fetched.
        assert "does not match" in response.json()["error"]
        assert str(sample.uri) not in response.text
    finally:
        server.stop()


async def _load(server: LocalServer, bodies: list[dict[str, object]], acked: list[str]) -> int:
    """Send requests from 16 clients until the server goes away; collect acked ids."""
    failures = 0

    async def client_loop(client: httpx.AsyncClient, offset: int) -> None:
        nonlocal failures
        i = offset
        while failures < 200:
            try:
                response = await client.post("/predict", json=bodies[i % len(bodies)])
            except httpx.HTTPError:
                failures += 1
                await asyncio.sleep(0.01)
                continue
            if response.status_code == 200:
                acked.extend(p["prediction_id"] for p in response.json()["predictions"])
            else:
                failures += 1
            i += 16

    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        await asyncio.gather(*(client_loop(client, k) for k in range(16)))
    return failures


@pytest.mark.parametrize("store", STORES)
def test_sigterm_under_load_logs_every_acknowledged_prediction(
    store: str,
    sample: Sample,
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    work = tmp_path_factory.mktemp(f"sigterm-{store}")
    url = store_url(store, work, request)
    # A long flush interval: what reaches the log after SIGTERM is the final flush's doing.
    server = start_server(work, sample, url, VIGIA_FLUSH_INTERVAL_S="600")
    records, _ = traffic_records(64, seed=31)
    bodies: list[dict[str, object]] = [{"rows": records[i : i + 2]} for i in range(0, 64, 2)]
    acked: list[str] = []

    async def scenario() -> None:
        load = asyncio.create_task(_load(server, bodies, acked))
        while len(acked) < 200:
            await asyncio.sleep(0.05)
        server.terminate()
        await load

    try:
        asyncio.run(asyncio.wait_for(scenario(), timeout=180))
    finally:
        server.stop()  # waits for the worker processes too
    logged = PredictionStore(url).prediction_ids()
    assert len(acked) >= 200
    missing = set(acked) - logged
    assert not missing, f"{len(missing)} of {len(acked)} acknowledged predictions not logged"


def test_two_workers_accept_feedback_right_after_prediction(
    sample: Sample, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """With two worker processes a prediction may still be in the other worker's buffer
    when its feedback arrives; the feedback must still be accepted, not refused as 404."""
    work = tmp_path_factory.mktemp("two-workers")
    server = start_server(
        work, sample, f"sqlite:///{work}/p.db", VIGIA_WORKERS="2", VIGIA_FLUSH_INTERVAL_S="1"
    )
    records, labels = traffic_records(40, seed=41)

    async def scenario() -> list[int]:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:

            async def one(record: dict[str, object], label: str) -> int:
                made = await client.post("/predict", json={"rows": [record]})
                pid = made.json()["predictions"][0]["prediction_id"]
                sent = await client.post("/feedback", json={"prediction_id": pid, "label": label})
                return sent.status_code

            return await asyncio.gather(*(one(r, y) for r, y in zip(records, labels, strict=True)))

    try:
        assert asyncio.run(scenario()) == [200] * 40
    finally:
        server.stop()
    assert PredictionStore(f"sqlite:///{work}/p.db").count("feedback") == 40


def test_a_port_taken_between_its_pick_and_the_bind_is_picked_again(
    sample: Sample, tmp_path: Path
) -> None:
    """Another process took the picked port first (another test worker's pick): the
    server comes up on new ports instead of failing the test that started it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind((HOST, 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = LocalServer(tmp_path, {"VIGIA_MODEL_URI": sample.uri,
                                        "VIGIA_STORE_URL": f"sqlite:///{tmp_path}/p.db"},
                             port=port)
        try:
            server.start_ready()
            assert server.port != port
            assert httpx.get(server.url + "/readyz", timeout=10).status_code == 200
            assert ADDRESS_IN_USE in (tmp_path / f"server-{port}.log").read_text()
        finally:
            server.stop()
