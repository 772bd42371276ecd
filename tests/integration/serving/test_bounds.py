"""The real server under its memory-derived bounds: the largest request it allows runs
while /healthz keeps answering (the event loop stays free). Latencies are printed by
benchmarks/healthz_under_load.py, not asserted here."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
import pytest
from vigia_serving.bounds import derive_bounds, memory_limit
from vigia_testbed.largest import largest_body

from tests.integration.serving.conftest import Sample, start_server
from vigia.settings import ServingSettings

pytestmark = pytest.mark.integration

MEMORY_LIMIT = 1024**3  # the sample's pod limit (manifests/samples/modeldeployment.yaml)
# Every row the largest body holds is allowed: the body bound is the one that binds.
ROWS_ALLOWED = 1_000_000
# /healthz answers that must complete while the largest request is in flight. With the
# answer built on the event loop (before this change), it stalled /healthz for most of
# the request: 1 to 3 answers came back in that time on this machine, against hundreds
# with the loop free.
HEALTHZ_ANSWERS = 20


def test_healthz_answers_while_the_largest_allowed_request_runs(
    sample: Sample, tmp_path: Path
) -> None:
    defaults = ServingSettings(model_uri=sample.uri)
    bounds = derive_bounds(memory_limit(MEMORY_LIMIT), 1, defaults.max_body_bytes,
                           defaults.max_concurrency)
    body, rows = largest_body(sample.bundle, bounds.max_body_bytes, ROWS_ALLOWED)
    server = start_server(tmp_path, sample, f"sqlite:///{tmp_path}/predictions.db",
                          VIGIA_MEMORY_LIMIT_BYTES=str(MEMORY_LIMIT),
                          VIGIA_MAX_REQUEST_ROWS=str(ROWS_ALLOWED))
    try:
        # The server derived the same bounds, and says so.
        assert bounds.describe() in server.log.read_text()
        # One byte more than the bound (JSON allows trailing space) is refused.
        over = body + b" " * (bounds.max_body_bytes - len(body) + 1)
        refused = httpx.post(server.url + "/predict", content=over, timeout=120,
                             headers={"content-type": "application/json"})
        assert refused.status_code == 413 and refused.json()["field"] == "body"

        answers: list[int] = []
        big: list[httpx.Response] = []
        done = threading.Event()

        def send() -> None:
            try:
                with httpx.Client(base_url=server.url, timeout=300) as client:
                    big.append(client.post("/predict", content=body,
                                           headers={"content-type": "application/json"}))
            finally:
                done.set()

        sender = threading.Thread(target=send)
        with httpx.Client(base_url=server.url, timeout=30) as probe:
            probe.get("/healthz")  # the connection open before the request starts
            sender.start()
            while not done.is_set():
                status = probe.get("/healthz").status_code
                if not done.is_set():
                    answers.append(status)
        sender.join()
        (response,) = big
        assert response.status_code == 200, response.text[:500]
        assert len(response.json()["predictions"]) == rows
        assert len(answers) >= HEALTHZ_ANSWERS and set(answers) == {200}, answers
    finally:
        server.stop()
