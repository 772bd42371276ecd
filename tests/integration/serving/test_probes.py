"""The probes' own process (vigia_serving.probes) on the real server: /healthz and /readyz
answer while the worker cannot (its predictions saturating it, or the worker stopped
outright), liveness fails once the worker has not answered for STALE_AFTER_S, and the probes come
back after their process or their worker dies. Latencies: benchmarks/healthz_under_load.py."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psutil
import pytest
from vigia_serving.local import LocalServer
from vigia_serving.probes import HEALTHZ, READYZ
from vigia_testbed.largest import largest_body

from tests.integration.serving.conftest import Sample, start_server

pytestmark = pytest.mark.integration

WORKER = "_bentoml_impl.worker.service"
PROBES = "vigia_serving.probes"
JSON = {"content-type": "application/json"}
# Requests in flight at once, each of ROWS rows: more rows than one micro-batch, so the
# model's thread always has a queue, and the parse threads are busy with the bodies.
SENDERS = 4
ROWS = 5000
# Probe answers gathered while the predictions run.
PROBE_ANSWERS = 20


def child(process: psutil.Process, marker: str) -> psutil.Process:
    """The one child of ``process`` whose command line names ``marker``."""
    (found,) = [c for c in process.children() if marker in " ".join(c.cmdline())]
    return found


def until(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"not {what} within {timeout} s")


def probe(server: LocalServer, path: str) -> httpx.Response:
    return httpx.get(server.probe_url + path, timeout=30)


@pytest.fixture
def server(sample: Sample, tmp_path: Path) -> Iterator[LocalServer]:
    started = start_server(tmp_path, sample, f"sqlite:///{tmp_path}/predictions.db",
                           VIGIA_MAX_REQUEST_ROWS=str(ROWS), VIGIA_MAX_QUEUED_ROWS=str(10 * ROWS))
    yield started
    started.stop()


def test_the_probes_answer_while_predictions_saturate_the_worker(
    server: LocalServer, sample: Sample
) -> None:
    body, rows = largest_body(sample.bundle, 8 * 1024 * 1024, ROWS)
    assert rows == ROWS
    stop = threading.Event()
    answered: list[int] = []

    def send() -> None:
        with httpx.Client(base_url=server.url, timeout=300) as client:
            while not stop.is_set():
                answered.append(client.post("/predict", content=body, headers=JSON).status_code)

    senders = [threading.Thread(target=send) for _ in range(SENDERS)]
    for sender in senders:
        sender.start()
    statuses: list[tuple[int, int]] = []
    try:
        until(lambda: len(answered) >= SENDERS, "predictions answered")
        while len(statuses) < PROBE_ANSWERS:
            statuses.append((probe(server, HEALTHZ).status_code,
                             probe(server, READYZ).status_code))
        in_flight_during = len(answered)
    finally:
        stop.set()
        for sender in senders:
            sender.join()
    # Predictions went on all along (the worker was busy), and no probe said otherwise.
    assert set(answered) <= {200, 503} and answered.count(200) >= SENDERS
    assert in_flight_during < len(answered)
    assert set(statuses) == {(200, 200)}, statuses


def test_liveness_follows_the_worker_without_waiting_for_it(server: LocalServer) -> None:
    assert server.process is not None
    worker = child(psutil.Process(server.process.pid), WORKER)
    child(worker, PROBES)
    worker.suspend()  # SIGSTOP: its event loop answers nothing, as one held for long
    try:
        with pytest.raises(httpx.TimeoutException):
            httpx.get(server.url + HEALTHZ, timeout=1)
        answers: list[httpx.Response] = []

        def liveness_failed() -> bool:
            answers.append(probe(server, HEALTHZ))
            return answers[-1].status_code == 503

        # The probes still answer: first with the worker's last answer, then, once that is
        # older than STALE_AFTER_S, that the worker stopped answering.
        until(liveness_failed, "liveness failed")
        assert b"has not answered /healthz" in answers[-1].content
        assert {a.status_code for a in answers} <= {200, 503}
        assert probe(server, READYZ).status_code == 503
    finally:
        worker.resume()
    until(lambda: probe(server, HEALTHZ).status_code == 200, "alive again")
    until(lambda: probe(server, READYZ).status_code == 200, "ready again")


def test_the_probes_come_back_after_their_process_or_their_worker_dies(
    server: LocalServer,
) -> None:
    assert server.process is not None
    arbiter = psutil.Process(server.process.pid)
    worker = child(arbiter, WORKER)
    probes = child(worker, PROBES)
    # The worker starts its probes again...
    probes.kill()
    probes.wait(timeout=30)
    until(lambda: probe_status(server) == 200, "the probes started again")
    probes = child(worker, PROBES)
    # ...and a killed worker's probes leave with it; the new worker's answer on the port.
    worker.kill()
    probes.wait(timeout=30)
    until(lambda: probe_status(server) == 200, "the new worker's probes ready")
    assert child(child(arbiter, WORKER), PROBES).pid != probes.pid


def probe_status(server: LocalServer) -> int:
    try:
        return probe(server, READYZ).status_code
    except httpx.HTTPError:
        return 0
