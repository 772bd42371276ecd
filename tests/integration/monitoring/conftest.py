"""A real Prometheus (tools/prometheus build) scraping real model-server processes.

Three servers over the sample bundle, each a ModelDeployment of its own: plant/steady gets
stationary traffic, plant/shifted gets drifted traffic (drift=1.0 moves ambient_temperature,
dough_humidity, line_speed and the flour supplier mix), lab/steady — the same model name in
another namespace — gets too little traffic to judge.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from vigia_operator.prometheus import rules
from vigia_serving.local import LocalServer
from vigia_testbed.prometheus import PrometheusServer, Target

from vigia.bundle import export_bundle
from vigia.sample import traffic_records, train_sample_model

SHIFTED_FEATURES = {"ambient_temperature", "dough_humidity", "line_speed"}
STEADY_FEATURES = {"oven_temperature", "baking_minutes", "sugar_ratio", "egg_ratio", "shift"}
ROWS = 800
FEW_ROWS = 40
BASELINE_S = 20  # scrapes
# A loaded machine (2 cores shared by many test sessions) has taken 160 s to start one.
SERVER_START_S = 400

# The version the fleet's servers serve (their series' ``version`` label): a ModelDeployment
# judged on them names it in spec.model.version, as the stable Deployment would serve it.
FLEET_VERSION = "3"


@dataclass
class Model:
    namespace: str
    name: str
    server: LocalServer
    predictions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.name)

    def predict(self, records: list[dict[str, Any]], batch: int = 50) -> None:
        with httpx.Client(base_url=self.server.url, timeout=60) as client:
            for start in range(0, len(records), batch):
                response = client.post("/predict", json={"rows": records[start:start + batch]})
                response.raise_for_status()
                self.predictions += response.json()["predictions"]

    def feedback(self, labels: list[str]) -> None:
        items = [{"prediction_id": p["prediction_id"], "label": label}
                 for p, label in zip(self.predictions, labels, strict=False)]
        with httpx.Client(base_url=self.server.url, timeout=60) as client:
            for start in range(0, len(items), 50):
                client.post("/feedback", json=items[start:start + 50]).raise_for_status()


@dataclass
class Fleet:
    prometheus: PrometheusServer
    models: dict[tuple[str, str], Model]
    classes: list[str]
    work: Path


def _start(work: Path, uri: str, namespace: str, name: str) -> LocalServer:
    return LocalServer(work / f"{namespace}-{name}", {
        "VIGIA_MODEL_URI": uri,
        "VIGIA_NAMESPACE": namespace,
        "VIGIA_MODEL_NAME": name,
        "VIGIA_TRACK": "stable",
        "VIGIA_STORE_URL": f"sqlite:///{work}/{namespace}-{name}.db",
        "VIGIA_FLUSH_INTERVAL_S": "0.2",
    }).start()


def fast_rule_file(work: Path) -> Path:
    """The shipped rules, evaluated every 2 s instead of every minute."""
    groups = rules.rule_groups()
    for group in groups:
        group["interval"] = "2s"
    path = work / "vigia-rules.yaml"
    path.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    return path


@contextmanager
def start_fleet(
    work: Path,
    steady: tuple[str, str] = ("plant", "steady"),
    shifted: tuple[str, str] = ("plant", "shifted"),
    few: tuple[str, str] = ("lab", "steady"),
) -> Iterator[Fleet]:
    """Servers for the three (namespace, name) keys, their traffic, and Prometheus."""
    bundle = train_sample_model(rows=2000, seed=1, version=FLEET_VERSION)
    uri = f"file://{work}/sobaos.bentomodel"
    export_bundle(bundle, uri, home=work / "home")
    servers = {key: _start(work, uri, *key) for key in (steady, shifted, few)}
    prometheus = PrometheusServer(work / "prometheus", rule_files=(fast_rule_file(work),))
    try:
        for server in servers.values():
            server.wait(timeout=SERVER_START_S)
        prometheus.start()
        prometheus.set_targets(Target(f"127.0.0.1:{s.port}") for s in servers.values())
        # Every server scraped once before any traffic: the counters' first samples are 0
        # (as in a cluster, where Prometheus scrapes a pod from its start).
        up = prometheus.wait_for(f"count(up == 1) == {len(servers)}")
        assert up, "targets never up"
        # increase() extrapolates a series by up to a scrape interval past its ends: with
        # BASELINE_S of samples (one a second) before the traffic, counts come within a few
        # percent. Waited for as scrapes of every server, not as time.
        baseline = prometheus.wait_for(
            f"count(count_over_time(up[5m]) >= {BASELINE_S}) == {len(servers)}",
            timeout=BASELINE_S * 10)
        assert baseline, f"fewer than {BASELINE_S} scrapes of a server"
        models = {key: Model(*key, server) for key, server in servers.items()}
        records, _ = traffic_records(ROWS, seed=21)
        models[steady].predict(records)
        # Feedback agreeing with every prediction: accuracy 1.
        models[steady].feedback([p["class"] for p in models[steady].predictions])
        drifted, _ = traffic_records(ROWS, seed=22, drift=1.0)
        models[shifted].predict(drifted)
        # Feedback contradicting every prediction: accuracy 0.
        classes = list(bundle.metadata.classes)
        models[shifted].feedback(
            [classes[1 - classes.index(p["class"])] for p in models[shifted].predictions]
        )
        models[few].predict(traffic_records(FEW_ROWS, seed=23)[0])
        yield Fleet(prometheus, models, classes, work)
    finally:
        prometheus.stop()
        for server in servers.values():
            server.stop()


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    with start_fleet(tmp_path_factory.mktemp("monitoring")) as started:
        yield started
