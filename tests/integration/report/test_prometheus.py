"""The report's live-metrics section from a real Prometheus scraping a real model server."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from vigia_serving.local import LocalServer
from vigia_testbed.net import LOOPBACK, free_port

from vigia import metrics
from vigia.bundle import export_bundle
from vigia.report.analysis import Terms
from vigia.report.build import ReportRequest, build_report
from vigia.report.sources import PrometheusSource, StoreSource, Window
from vigia.sample import traffic_records, train_sample_model

pytestmark = pytest.mark.integration


def prometheus_binary() -> Path:
    """The upstream Prometheus that tools/prometheus/build.sh caches (or $VIGIA_PROMETHEUS_BIN)."""
    given = os.environ.get("VIGIA_PROMETHEUS_BIN")
    found = (
        [Path(given)]
        if given
        else sorted(Path.home().glob(".cache/vigia/prometheus-*/bin/prometheus"))
    )
    if not found or not os.access(found[-1], os.X_OK):
        pytest.skip("Prometheus is not built yet (scripts/setup builds it: tools/prometheus)")
    return found[-1]


@pytest.fixture()
def scraped(tmp_path: Path) -> Iterator[tuple[LocalServer, str, str]]:
    bundle = train_sample_model(rows=1500, seed=5)
    uri = f"file://{tmp_path}/sobaos.bentomodel"
    export_bundle(bundle, uri, home=tmp_path / "home")
    store = f"sqlite:///{tmp_path}/predictions.db"
    server = LocalServer(tmp_path, {"VIGIA_MODEL_URI": uri, "VIGIA_STORE_URL": store}).start_ready()
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s}\n"
        "scrape_configs:\n"
        f"  - job_name: vigia\n    static_configs: [{{targets: ['{LOOPBACK}:{server.port}']}}]\n"
    )
    log = (tmp_path / "prometheus.log").open("wb")
    prometheus = subprocess.Popen(
        [
            str(prometheus_binary()),
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address={LOOPBACK}:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://{LOOPBACK}:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/-/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "prometheus.log").read_text()[-2000:]
            time.sleep(0.3)
        yield server, url, store
    finally:
        prometheus.terminate()
        prometheus.wait(30)
        log.close()
        server.stop()


def wait_for_samples(prometheus: str, selector: str, samples: int) -> None:
    """Until Prometheus holds ``samples`` scrapes of the series (a loaded machine is slow)."""
    query = f"min(count_over_time({selector}[5m]))"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        answer = httpx.get(f"{prometheus}/api/v1/query", params={"query": query}, timeout=5).json()
        result = answer["data"]["result"]
        if result and float(result[0]["value"][1]) >= samples:
            return
        time.sleep(0.5)
    raise AssertionError(f"Prometheus has fewer than {samples} samples of {selector}")


def test_live_metrics_and_kpis_come_from_prometheus(
    scraped: tuple[LocalServer, str, str],
) -> None:
    server, prometheus, store = scraped
    started = datetime.now(UTC)
    records, _ = traffic_records(200, seed=8)
    for i in range(0, 200, 10):
        assert (
            httpx.post(
                server.url + "/predict", json={"rows": records[i : i + 10]}, timeout=30
            ).status_code
            == 200
        )
        time.sleep(0.4)
    wait_for_samples(prometheus, f"{metrics.PREDICTIONS_SERIES}{{model='sobaos'}}", 5)
    series = metrics.PREDICTIONS_SERIES
    share = f'sum(rate({series}{{class="defective"}}[1m])) / sum(rate({series}[1m]))'
    request = ReportRequest(
        model="sobaos",
        window=Window(started - timedelta(minutes=2), datetime.now(UTC)),
        terms=Terms("sponge cakes", "defective"),
        kpis={"share flagged defective": share},
    )
    source = StoreSource(store)
    report = build_report(
        train_sample_model(rows=1500, seed=5), source, request, PrometheusSource(prometheus)
    )
    source.close()
    live_section = report.html[report.html.index('<section id="prometheus">') :][:2000]
    assert "prometheus" not in report.empty, live_section
    live = report.html[report.html.index('<section id="prometheus">') :]
    assert live.count('<svg role="img"') == 2, live_section
    assert "Predictions per second by version and track" in live
    assert "KPI: share flagged defective" in live
    assert report.rows == 200
