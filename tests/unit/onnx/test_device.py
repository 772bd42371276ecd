"""The device process's parts: its HTTP answers, and telemetry around a switch (a local
HTTP receiver records what the device posts)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from vigia.onnx.device import LOOPBACK, Device, handler_for
from vigia.onnx.export import compile_bundle
from vigia.onnx.release import RELEASE_FILE, point_release, publish_version
from vigia.sample import traffic_records, train_sample_model


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    site = tmp_path_factory.mktemp("site")
    for v in ("1", "2"):
        compiled = compile_bundle(train_sample_model(rows=800, seed=int(v), version=v))
        publish_version(site, compiled.model, compiled.manifest)
    return site


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer((LOOPBACK, 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://{LOOPBACK}:{server.server_address[1]}/telemetry", received
    server.shutdown()
    server.server_close()


def test_a_version_s_counts_are_sent_under_it_before_the_switch(
    site: Path, tmp_path: Path, receiver: tuple[str, list[dict[str, Any]]]
) -> None:
    url, received = receiver
    point_release(site, "1")
    device = Device((site / RELEASE_FILE).as_uri(), tmp_path / "store", telemetry=url)
    assert device.follower.check()
    rows, _ = traffic_records(10, seed=3)
    assert device.follower.model is not None
    device.follower.model.predict(rows)
    point_release(site, "2")
    assert device.follower.check()
    device.follower.model.predict(rows[:4])
    device.report()
    device.report()  # nothing new: nothing sent
    assert [(r["version"], r["predictions"], r["source"]) for r in received] == [
        ("1", 10, "edge"), ("2", 4, "edge")]


def test_predict_and_status_over_http(site: Path, tmp_path: Path) -> None:
    point_release(site, "1")
    device = Device((site / RELEASE_FILE).as_uri(), tmp_path / "store")
    server = ThreadingHTTPServer((LOOPBACK, 0), handler_for(device))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://{LOOPBACK}:{server.server_address[1]}"
    try:
        assert httpx.post(base + "/predict", json={"rows": []}).status_code == 503
        device.follower.check()
        rows, _ = traffic_records(3, seed=4)
        answer = httpx.post(base + "/predict", json={"rows": rows}).json()
        assert answer["version"] == "1" and len(answer["predictions"]) == 3
        rows[1]["shift"] = "evening"
        refused = httpx.post(base + "/predict", json={"rows": rows})
        assert refused.status_code == 422 and refused.json()["field"] == "rows[1].shift"
        status = httpx.get(base + "/status").json()
        assert status["version"] == "1" and status["switches"][0]["previous"] is None
    finally:
        server.shutdown()
        server.server_close()
