"""The browser page in Debian's chromium: the model runs in the page, inputs stay there."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from vigia_serving.local import LocalServer
from vigia_testbed.net import LOOPBACK, free_port

from tests.fixtures.browser import Recorder, open_page
from tests.integration.browser.conftest import write_csv
from vigia.onnx.parity import DEFAULT_THRESHOLD
from vigia.sample import traffic_records

pytestmark = pytest.mark.integration
PAGE_FILES = {
    "/app/",
    "/app/app.css",
    "/app/app.js",
    "/app/telemetry.js",
    "/app/release.json",
    "/app/model.json",
    "/app/model.onnx",
    "/app/ort/ort.wasm.min.js",
    "/app/ort/ort-wasm-simd-threaded.mjs",
    "/app/ort/ort-wasm-simd-threaded.wasm",
}
SCREENSHOTS = Path(os.environ.get("VIGIA_SCREENSHOTS", "/tmp/vigia-screenshots"))


def page_predictions(page: Any) -> list[tuple[str, list[float]]]:
    rows = page.locator("#results tbody tr")
    return [
        (
            rows.nth(i).get_attribute("data-class"),
            json.loads(rows.nth(i).get_attribute("data-probabilities")),
        )
        for i in range(rows.count())
    ]


def server_predictions(
    server: LocalServer, records: list[dict[str, Any]]
) -> list[tuple[str, list[float]]]:
    answer = httpx.post(server.url + "/predict", json={"rows": records}, timeout=30).json()
    classes = ["defective", "good"]
    return [(p["class"], [p["probabilities"][c] for c in classes]) for p in answer["predictions"]]


def assert_same(
    browser: list[tuple[str, list[float]]], server: list[tuple[str, list[float]]]
) -> None:
    assert len(browser) == len(server)
    assert [c for c, _ in browser] == [c for c, _ in server]
    difference = np.abs(np.array([p for _, p in browser]) - np.array([p for _, p in server]))
    assert difference.max() <= DEFAULT_THRESHOLD


def assert_inputs_stayed(recorder: Recorder, base: str, secrets: list[str]) -> None:
    assert recorder.requests, "the interception saw no request at all"
    for request in recorder.requests:
        assert request.method == "GET", request
        assert request.url.startswith(base + "/"), request
        assert not any(s in request.url or s in (request.body or "") for s in secrets), request


def test_page_predicts_a_csv_like_the_server_and_sends_nothing(
    playwright_driver: Any, server: LocalServer, tmp_path: Path
) -> None:
    records, _ = traffic_records(40, seed=12)
    csv = write_csv(tmp_path / "items.csv", records)
    with open_page(playwright_driver, server.url + "/app/") as (page, recorder):
        page.goto(server.url + "/app/")
        page.wait_for_selector("body[data-ready=true]", timeout=60_000)
        assert page.inner_text("#model") == "Model sobaos, version 7"
        page.set_input_files("#csv", str(csv))
        page.wait_for_selector("#results:not([hidden])")
        assert "40 prediction(s)" in page.inner_text("#status")
        browser = page_predictions(page)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "browser-page.png"), full_page=True)
    assert_same(browser, server_predictions(server, records))
    assert recorder.errors == []
    assert {r.url.removeprefix(server.url) for r in recorder.requests} == PAGE_FILES
    secrets = [f"{r['oven_temperature']:.6f}"[:9] for r in records[:10]]
    assert_inputs_stayed(recorder, server.url, secrets)


def test_form_row_is_predicted_in_the_page(playwright_driver: Any, server: LocalServer) -> None:
    record = traffic_records(1, seed=13)[0][0]
    record["oven_temperature"] = 187.654321  # a value no request may carry
    with open_page(playwright_driver, server.url + "/app/") as (page, recorder):
        page.goto(server.url + "/app/")
        page.wait_for_selector("body[data-ready=true]", timeout=60_000)
        for name, value in record.items():
            field = page.locator(f"[name={name}]")
            if field.evaluate("e => e.tagName") == "SELECT":
                field.select_option(str(value))
            else:
                field.fill("" if value is None else str(value))
        page.click("#predict")
        page.wait_for_selector("#results:not([hidden])")
        browser = page_predictions(page)
        page.select_option("[name=shift]", "night")
        page.fill("[name=line_speed]", "")
        page.click("#predict")
        error = page.inner_text("#status")
    assert_same(browser, server_predictions(server, [record]))
    assert error == "line_speed: must not be empty"
    assert recorder.errors == []
    assert_inputs_stayed(recorder, server.url, ["187.65"])


def test_exported_folder_runs_from_any_static_host(
    playwright_driver: Any, server: LocalServer, tmp_path: Path
) -> None:
    folder = tmp_path / "site"
    uri = server.env["VIGIA_MODEL_URI"]
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "vigia.cli",
            "export",
            "web",
            uri,
            "--out",
            str(folder),
            "--home",
            str(tmp_path / "home"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    port = free_port()
    host = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", LOOPBACK, "-d", str(folder)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://{LOOPBACK}:{port}"
    records, _ = traffic_records(10, seed=14)
    try:
        with open_page(playwright_driver, base + "/") as (page, recorder):
            page.goto(base + "/index.html", wait_until="load")
            page.wait_for_selector("body[data-ready=true]", timeout=60_000)
            page.set_input_files("#csv", str(write_csv(tmp_path / "rows.csv", records)))
            page.wait_for_selector("#results:not([hidden])")
            browser = page_predictions(page)
    finally:
        host.terminate()
        host.wait(10)
    assert_same(browser, server_predictions(server, records))
    assert recorder.errors == []
    assert_inputs_stayed(recorder, base, [])


def input_values(records: list[dict[str, Any]]) -> list[str]:
    """Every numeric input as a request could carry it (its first 5 significant digits)."""
    found = []
    for record in records:
        for value in record.values():
            if isinstance(value, float) and abs(value) >= 1e-3:
                found.append(f"{value:.5g}")
    return found


def test_opted_in_page_sends_only_aggregates_and_the_server_counts_them(
    playwright_driver: Any, server: LocalServer, tmp_path: Path
) -> None:
    records, _ = traffic_records(40, seed=15)
    records[0]["oven_temperature"] = 187.654321
    csv = write_csv(tmp_path / "shared.csv", records)
    # The whole server is let through: a request anywhere on it is seen and answered.
    with open_page(playwright_driver, server.url + "/") as (page, recorder):
        page.goto(server.url + "/app/")
        page.wait_for_selector("body[data-ready=true]", timeout=60_000)
        page.check("#share")  # the visitor's opt-in
        page.set_input_files("#csv", str(csv))
        page.wait_for_selector("body[data-reported='1']", state="attached")
        browser = page_predictions(page)
    assert recorder.errors == []
    posts = [r for r in recorder.requests if r.method != "GET"]
    assert [(r.method, r.url) for r in posts] == [("POST", server.url + "/telemetry")]
    report = json.loads(posts[0].body or "")
    assert report["source"] == "browser" and report["predictions"] == 40
    assert set(report) <= {"model", "version", "source", "predictions", "classes",
                           "confidence", "features", "feedback"}
    assert report["classes"] == {c: [p for p, _ in browser].count(c) for c in report["classes"]}
    secrets = input_values(records)
    assert "187.65" in secrets
    for request in recorder.requests:  # every request the page made, its URL and its body
        assert not any(s in request.url or s in (request.body or "") for s in secrets), request
    exposed = httpx.get(server.url + "/metrics", timeout=30).text
    counted = [line for line in exposed.splitlines()
               if line.startswith("vigia_prediction_confidence_count{")
               and 'source="browser"' in line]
    assert counted and float(counted[0].rsplit(" ", 1)[1]) == 40
