"""Two real servers, a stable and a canary over one PostgreSQL log, as behind one Service:
the sample traffic sender (`vigia sample send`) and labels that reach the other pod."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from vigia_serving.local import LocalServer

from tests.integration.serving.conftest import Sample, start_server, store_url
from tests.integration.serving.harness import metric
from vigia import metrics
from vigia.sample import traffic_records
from vigia.traffic import send

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def tracks(request: pytest.FixtureRequest, sample: Sample,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, LocalServer]]:
    work = tmp_path_factory.mktemp("tracks")
    url = store_url("postgres", work, request)
    servers: dict[str, LocalServer] = {}
    try:
        for track in ("stable", "canary"):
            servers[track] = start_server(work / track, sample, url, VIGIA_TRACK=track)
        yield servers
    finally:
        for server in servers.values():
            server.stop()


def _feedback(server: LocalServer, **labels: str) -> float:
    text = httpx.get(server.url + "/metrics", timeout=10).text
    return metric(text, metrics.FEEDBACK_SERIES, **labels)


def test_a_label_counts_for_the_track_that_predicted(tracks: dict[str, LocalServer]) -> None:
    records, labels = traffic_records(30, seed=5)
    answer = httpx.post(tracks["stable"].url + "/predict", json={"rows": records},
                        timeout=30).json()
    before = _feedback(tracks["canary"], track="stable")
    # The labels reach the canary's pod straight away (the stable may not have flushed its
    # log yet: asked again, as vigia.traffic does).
    items = [{"prediction_id": p["prediction_id"], "label": label}
             for p, label in zip(answer["predictions"], labels, strict=True)]
    for _ in range(10):
        response = httpx.post(tracks["canary"].url + "/feedback", json=items, timeout=30)
        if response.status_code != 404:
            break
        time.sleep(0.5)
    assert response.status_code == 200, response.text
    assert _feedback(tracks["canary"], track="stable") - before == 30
    assert _feedback(tracks["canary"], track="canary") == 0


def test_sender_scores_what_it_sent_and_labels_every_item(
        tracks: dict[str, LocalServer], tmp_path: Path) -> None:
    sent = send(tracks["stable"].url, 250, seed=8, drift=0.0, batch=40).as_dict()
    assert (sent["rows"], sent["feedback"]) == (250, 250)
    (version,) = sent["byVersion"]
    assert sent["byVersion"][version]["rows"] == 250
    assert 0.75 < sent["accuracy"] < 0.97  # the sample model on undrifted rows

    stop = tmp_path / "stop"
    stop.touch()  # already there: an endless run stops before its first request
    done = subprocess.run(
        [sys.executable, "-m", "vigia.cli", "sample", "send", tracks["canary"].url,
         "--until-file", str(stop), "--drift", "1"],
        capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(done.stdout)["rows"] == 0
    refused = subprocess.run([sys.executable, "-m", "vigia.cli", "sample", "send",
                              tracks["canary"].url], capture_output=True, text=True,
                             timeout=60, check=False)
    assert refused.returncode != 0 and "--rows, --until-file" in refused.stderr
