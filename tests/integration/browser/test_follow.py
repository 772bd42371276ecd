"""Devices follow the promoted version over real HTTP: a static host serves release.json and
two versions; a device runner process (vigia.onnx.device) and the page in Debian's chromium
switch when the release is promoted, refuse a tampered graph, and follow a rollback."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from vigia_testbed.net import LOOPBACK, free_port

from tests.fixtures.browser import open_page
from vigia.browser_page import export_web
from vigia.onnx.export import Compiled, compile_bundle
from vigia.onnx.manifest import MODEL_FILE
from vigia.onnx.release import VERSIONS_DIR, point_release, publish_version
from vigia.sample import traffic_records, train_sample_model

pytestmark = pytest.mark.integration
CHECK_INTERVAL_S = 0.5


@dataclass
class Fleet:
    site: Path
    base: str
    device: str
    store: Path
    versions: dict[str, Compiled]


def _wait_up(url: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise AssertionError(f"{url} never answered")


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    work = tmp_path_factory.mktemp("follow")
    versions = {v: compile_bundle(train_sample_model(rows=1200, seed=int(v), version=v))
                for v in ("1", "2")}
    site = work / "site"
    export_web(versions["1"], site)  # the page and onnxruntime-web
    for compiled in versions.values():
        publish_version(site, compiled.model, compiled.manifest)
    point_release(site, "1")
    host_port, device_port = free_port(), free_port()
    base = f"http://{LOOPBACK}:{host_port}"
    host = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(host_port), "--bind", LOOPBACK, "-d", str(site)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    device = subprocess.Popen(
        [sys.executable, "-m", "vigia.onnx.device", "--release", f"{base}/release.json",
         "--store", str(work / "store"), "--interval", str(CHECK_INTERVAL_S),
         "--port", str(device_port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_up(base + "/release.json")
        _wait_up(f"http://{LOOPBACK}:{device_port}/status")
        yield Fleet(site, base, f"http://{LOOPBACK}:{device_port}", work / "store", versions)
    finally:
        for process in (device, host):
            process.terminate()
            process.wait(10)


def device_serving(fleet: Fleet, version: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    status: dict[str, Any] = {}
    while time.monotonic() < deadline:
        status = httpx.get(fleet.device + "/status", timeout=5).json()
        if status["version"] == version:
            return status
        time.sleep(0.1)
    raise AssertionError(f"the device never served version {version}: {status}")


def page_version(driver: Any, fleet: Fleet) -> str:
    with open_page(driver, fleet.base + "/") as (page, recorder):
        page.goto(fleet.base + "/index.html", wait_until="load")
        page.wait_for_selector("body[data-ready=true], #status.error", timeout=60_000)
        shown = page.inner_text("#status") or page.inner_text("#model")
    assert all(r.method == "GET" for r in recorder.requests)
    return shown


def predict(fleet: Fleet, rows: list[dict[str, Any]]) -> dict[str, Any]:
    answer = httpx.post(fleet.device + "/predict", json={"rows": rows}, timeout=30)
    answer.raise_for_status()
    return dict(answer.json())


def test_a_runner_and_a_page_follow_a_promotion_a_tampered_release_and_a_rollback(
    playwright_driver: Any, fleet: Fleet
) -> None:
    rows, _ = traffic_records(20, seed=31)
    device_serving(fleet, "1")
    assert predict(fleet, rows)["version"] == "1"
    assert page_version(playwright_driver, fleet) == "Model sobaos, version 1"

    point_release(fleet.site, "2")  # promoted
    status = device_serving(fleet, "2")
    answered = predict(fleet, rows)
    assert answered["version"] == "2"
    expected = fleet.versions["2"].runner().predict(rows)
    assert [p["class"] for p in answered["predictions"]] == [p["class"] for p in expected]
    assert [(s["version"], s["previous"]) for s in status["switches"]] == [("1", None),
                                                                            ("2", "1")]
    with open_page(playwright_driver, fleet.base + "/") as (page, _):
        page.goto(fleet.base + "/index.html", wait_until="load")
        page.wait_for_selector("body[data-ready=true]", timeout=60_000)
        assert page.inner_text("#model") == "Model sobaos, version 2"
        # A release whose graph is not the one it names: the device keeps version 2; the
        # page, reloaded, refuses it and runs the version it verified last.
        publish_version(fleet.site, fleet.versions["2"].model,
                        _renamed(fleet.versions["2"], "3"))
        point_release(fleet.site, "3")
        (fleet.site / VERSIONS_DIR / "3" / MODEL_FILE).write_bytes(fleet.versions["1"].model)
        page.reload(wait_until="load")
        page.wait_for_selector("body[data-ready=true]", timeout=60_000)
        assert page.inner_text("#model") == "Model sobaos, version 2"
        assert page.inner_text("#status") == ("versions/3/model.onnx: digest does not match "
                                              "the release; not loaded; running the previous "
                                              "version 2")
    time.sleep(4 * CHECK_INTERVAL_S)
    status = httpx.get(fleet.device + "/status", timeout=5).json()
    assert status["version"] == "2" and "digest" in status["last_error"]
    # A page that never ran a good version has nothing to fall back to: it refuses.
    assert "digest does not match the release" in page_version(playwright_driver, fleet)

    point_release(fleet.site, "1")  # rolled back
    status = device_serving(fleet, "1")
    assert predict(fleet, rows)["version"] == "1"
    assert page_version(playwright_driver, fleet) == "Model sobaos, version 1"
    assert sorted(p.name for p in fleet.store.iterdir() if p.is_dir()) == ["1", "2"]


def _renamed(compiled: Compiled, version: str) -> Any:
    return dataclasses.replace(compiled.manifest, version=version)


def test_the_model_server_publishes_its_release_beside_the_page(server: Any) -> None:
    release = httpx.get(server.url + "/app/release.json", timeout=60).json()
    model = httpx.get(server.url + "/app/" + release["model"], timeout=60).content
    manifest = httpx.get(server.url + "/app/" + release["manifest"], timeout=60).content
    assert release["model_digest"] == "sha256:" + hashlib.sha256(model).hexdigest()
    assert release["manifest_digest"] == "sha256:" + hashlib.sha256(manifest).hexdigest()
    assert release["version"] == json.loads(manifest)["version"] == "7"
    assert release["parity_passed"] is True and release["telemetry"] == "/telemetry"
