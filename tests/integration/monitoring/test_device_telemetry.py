"""Drift on a device, flagged by the operator: the device runner (its own process) predicts
drifted rows and sends only aggregates to POST /telemetry; a real Prometheus scrapes the
server; the operator's analysis names the drifted features. The server itself predicts
nothing, so every count it judges came from the device."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from vigia_operator.core import reasons
from vigia_operator.decide import monitoring as ev
from vigia_operator.prometheus.client import PrometheusClient
from vigia_operator.prometheus.collect import MonitoredModel, PrometheusSignals
from vigia_operator.view.monitoring import MonitoringSpec
from vigia_serving.local import LocalServer
from vigia_testbed.prometheus import PrometheusServer, Target

from vigia import metrics
from vigia.bundle import export_bundle
from vigia.onnx.export import compile_bundle, write_compiled
from vigia.sample import traffic_records, train_sample_model
from vigia.telemetry import MAX_REPORT_BYTES, TELEMETRY_PATH

from .conftest import BASELINE_S, SERVER_START_S, SHIFTED_FEATURES, STEADY_FEATURES, fast_rule_file

pytestmark = pytest.mark.integration
ROWS = 800
KEY = ("plant", "devices")
REPORTS_PER_MINUTE = 6


@dataclass
class Device:
    server: LocalServer
    prometheus: PrometheusServer
    folder: Path
    rows: Path


@pytest.fixture(scope="module")
def device(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Device]:
    work = tmp_path_factory.mktemp("telemetry")
    bundle = train_sample_model(rows=2000, seed=1, version="5")
    uri = f"file://{work}/sobaos.bentomodel"
    export_bundle(bundle, uri, home=work / "home")
    folder = work / "device"
    write_compiled(compile_bundle(bundle), folder)
    drifted, _ = traffic_records(ROWS, seed=22, drift=1.0)
    rows = work / "rows.jsonl"
    rows.write_text("".join(json.dumps(r) + "\n" for r in drifted))
    server = LocalServer(work / "server", {
        "VIGIA_MODEL_URI": uri, "VIGIA_NAMESPACE": KEY[0], "VIGIA_MODEL_NAME": KEY[1],
        "VIGIA_TRACK": "stable", "VIGIA_STORE_URL": f"sqlite:///{work}/predictions.db",
        "VIGIA_TELEMETRY": "true", "VIGIA_TELEMETRY_REPORTS_PER_MINUTE": str(REPORTS_PER_MINUTE),
    }).start()
    prometheus = PrometheusServer(work / "prometheus", rule_files=(fast_rule_file(work),))
    try:
        server.wait(timeout=SERVER_START_S)
        prometheus.start()
        prometheus.set_targets([Target(f"127.0.0.1:{server.port}")])
        assert prometheus.wait_for("count(up == 1) == 1"), "target never up"
        assert prometheus.wait_for(f"count_over_time(up[5m]) >= {BASELINE_S}",
                                   timeout=BASELINE_S * 10)
        yield Device(server, prometheus, folder, rows)
    finally:
        prometheus.stop()
        server.stop()


def run_device(device: Device) -> subprocess.CompletedProcess[str]:
    with device.rows.open() as rows:
        return subprocess.run(
            [sys.executable, "-m", "vigia.onnx.runner", str(device.folder),
             "--telemetry", device.server.url + TELEMETRY_PATH],
            stdin=rows, capture_output=True, text=True, timeout=300, check=False,
        )


def test_drift_on_the_device_is_flagged_by_the_operator_naming_the_features(
    device: Device,
) -> None:
    done = run_device(device)
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == ROWS
    edge = 'sum(vigia_feature_bin_total{source="edge", feature="line_speed"})'
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        found = device.prometheus.query(edge)
        recorded = device.prometheus.query(f'sum(vigia:feature_rows:1h{{model="{KEY[1]}"}})')
        if found and float(found[0]["value"][1]) == ROWS and recorded:
            break
        time.sleep(1)
    else:
        raise AssertionError(f"Prometheus never saw the device's counts: {found}")
    server_side = device.prometheus.query('sum(vigia_predictions_total{source="server"})')
    assert float(server_side[0]["value"][1]) == 0  # the server predicted nothing itself
    spec = MonitoringSpec(window="5m", drift_min_samples=200, accuracy_min_feedback=50)
    model = MonitoredModel(KEY, spec)
    tick = PrometheusSignals(PrometheusClient(device.prometheus.url, timeout_s=10)).collect(
        [model], time.time())
    verdict = ev.assess(spec, tick.of(KEY), now=time.time(), unavailable=tick.unavailable)
    drifted = verdict.condition(reasons.DRIFTED)
    assert drifted is not None
    assert (drifted.status, drifted.reason) == ("True", reasons.FEATURES_DRIFTED)
    named = set(verdict.section["drift"]["features"])
    assert named >= {"ambient_temperature", "line_speed"}
    assert named <= SHIFTED_FEATURES | {"flour_supplier"}
    assert not named & STEADY_FEATURES


def test_the_endpoint_takes_only_the_schema_bounded_in_size_and_rate(device: Device) -> None:
    url = device.server.url + TELEMETRY_PATH
    report = {"model": "sobaos", "version": "5", "source": "edge", "predictions": 0}
    with httpx.Client(timeout=30) as client:
        raw = client.post(url, json={**report, "rows": [{"line_speed": 1.5}]})
        assert raw.status_code == 422 and raw.json()["field"] == "rows"
        old = client.post(url, json={**report, "version": "4"})
        assert old.status_code == 409 and old.json()["field"] == "version"
        huge = client.post(url, content=b" " * (MAX_REPORT_BYTES + 1),
                           headers={"content-type": "application/json"})
        assert huge.status_code == 413
        answers = [client.post(url, json=report) for _ in range(REPORTS_PER_MINUTE + 1)]
    limited = [a for a in answers if a.status_code == 429]
    assert limited and int(limited[0].headers["Retry-After"]) >= 1
    assert {a.status_code for a in answers} <= {200, 429}
    assert metrics.SOURCE_EDGE in {a.json().get("source") for a in answers}
