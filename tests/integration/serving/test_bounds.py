"""The real server under its memory-derived bounds: the largest request it allows runs
while /healthz keeps answering (the event loop stays free). Latencies are printed by
benchmarks/healthz_under_load.py, not asserted here."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest
from vigia_serving.bounds import derive_bounds, memory_limit
from vigia_testbed.largest import largest_body

from tests.integration.serving.conftest import Sample, start_server
from tests.integration.serving.harness import metric
from vigia import metrics
from vigia.settings import ServingSettings

pytestmark = pytest.mark.integration

MEMORY_LIMIT = 1024**3  # the sample's pod limit (manifests/samples/modeldeployment.yaml)
# Every row the largest body holds is allowed: the body bound is the one that binds.
ROWS_ALLOWED = 1_000_000
# /healthz answers that must complete after the model has computed the largest request's
# predictions and before its answer arrives: the answer (an id, a log record and JSON per
# row) is built then. Built on the event loop, as before this change, none came back in 3
# runs; built in a thread, 48 to 152 (a shared 2-core machine), and 7 in a CI run with
# four test workers beside the e2e tier. The bound tells a blocked loop (0) from a free one,
# not how fast it answers (benchmarks/healthz_under_load.py prints that).
HEALTHZ_ANSWERS = 2


def observed(client: httpx.Client, feature: str) -> float:
    """Values of ``feature`` the server has counted: the last thing the model's thread
    does for a batch, after computing its predictions."""
    text = client.get("/metrics").text
    return sum(metric(text, metrics.series(name), **{metrics.LABEL_FEATURE: feature})
               for name in (metrics.FEATURE_BIN, metrics.FEATURE_MISSING))


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
                with httpx.Client(base_url=server.url, timeout=300) as client, client.stream(
                        "POST", "/predict", content=body,
                        headers={"content-type": "application/json"}) as response:
                    done.set()  # its headers: the answer is built (the rest is transfer)
                    response.read()
                    big.append(response)
            finally:
                done.set()

        sender = threading.Thread(target=send)
        with httpx.Client(base_url=server.url, timeout=30) as probe:
            sender.start()
            # The model has run, and its thread is done, once the last feature's values
            # of the request's rows are counted; what remains is the answer.
            last = sample.bundle.metadata.schema.names[-1]
            while observed(probe, last) < rows and not done.is_set():
                time.sleep(0.01)
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
