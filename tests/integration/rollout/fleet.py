"""Real model-server processes standing in for the pods of both tracks, a real Prometheus
scraping them, and a client that splits its traffic by the canary's achieved weight.

On the local control plane the pods run on kwok's fake nodes and serve nothing; these
processes carry the traffic in their place, labelled as the pods would be (namespace,
model, track, version), so the operator measures the canary from real metrics. The client
reads status.canary.achievedWeight and sends that share of requests to the canary server,
as the one Service over both tracks would.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
from vigia_serving.local import LocalServer

from tests.fixtures.prometheus import PrometheusServer, Target
from vigia.bundle import export_bundle, make_bundle
from vigia.sample import DEFECTIVE, GOOD, production_line, sample_pipeline

MODEL_NAME = "sobaos"


def export_version(work: Path, version: str, *, seed: int, wrong_labels: bool = False) -> str:
    """A sample bundle named ``version``; ``wrong_labels`` trains it on inverted targets
    (a model whose accuracy on feedback is far below the stable's)."""
    X, y = production_line(1500, seed=seed)
    if wrong_labels:
        y = y.map({GOOD: DEFECTIVE, DEFECTIVE: GOOD})
    model = sample_pipeline(seed).fit(X, y)
    bundle = make_bundle(model, X, y, name=MODEL_NAME, version=version)
    uri = f"file://{work}/{version}.bentomodel"
    export_bundle(bundle, uri, home=work / "home")
    return uri


@dataclass
class Fleet:
    """One server process per (track, version), all scraped by one Prometheus."""

    work: Path
    prometheus: PrometheusServer
    namespace: str
    model: str
    servers: dict[tuple[str, str], LocalServer] = field(default_factory=dict)

    def serve(self, track: str, version: str, uri: str) -> LocalServer:
        server = LocalServer(self.work / f"{track}-{version}", {
            "VIGIA_MODEL_URI": uri,
            "VIGIA_TRACK": track,
            "VIGIA_MODEL_NAME": self.model,
            "VIGIA_NAMESPACE": self.namespace,
            "VIGIA_STORE_URL": f"sqlite:///{self.work}/{track}-{version}.db",
            "VIGIA_FLUSH_INTERVAL_S": "0.2",
        }).start_ready()
        self.servers[(track, version)] = server
        self._publish()
        return server

    def retire(self, track: str, version: str) -> None:
        server = self.servers.pop((track, version), None)
        if server is not None:
            server.stop()
        self._publish()

    def _publish(self) -> None:
        self.prometheus.set_targets([
            Target(f"127.0.0.1:{server.port}", {
                "namespace": self.namespace, "model": self.model, "track": track,
                "version": version,
            })
            for (track, version), server in self.servers.items()
        ])

    def stop(self) -> None:
        for key in list(self.servers):
            self.retire(*key)


@dataclass
class Client:
    """Single-row predictions at ``rate`` per second with feedback for each, the canary
    getting ``weight()`` percent of them."""

    fleet: Fleet
    weight: Callable[[], int]
    stable_version: Callable[[], str]
    canary_version: Callable[[], str | None]
    rate: float = 40.0  # requests per second, over all threads
    threads: int = 4
    feedback: bool = True
    sent: dict[str, int] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> Client:
        X, y = production_line(20_000, seed=99)
        records = json.loads(X.to_json(orient="records"))
        labels = y.tolist()
        for n in range(self.threads):
            thread = threading.Thread(target=self._run, args=(n, records, labels), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def _run(self, n: int, records: list[dict], labels: list[str]) -> None:
        rng = random.Random(n)
        period = self.threads / self.rate
        with httpx.Client(timeout=10) as http:
            i = n
            while not self._stop.is_set():
                started = time.monotonic()
                target = self._pick(rng)
                if target is not None:
                    self._send(http, target, records[i % len(records)], labels[i % len(labels)])
                    i += self.threads
                time.sleep(max(0.0, period - (time.monotonic() - started)))

    def _pick(self, rng: random.Random) -> tuple[str, LocalServer] | None:
        canary = self.canary_version()
        if canary is not None and rng.random() * 100 < self.weight():
            key = ("canary", canary)
        else:
            key = ("stable", self.stable_version())
        server = self.fleet.servers.get(key)
        return None if server is None else (key[0], server)

    def _send(self, http: httpx.Client, target: tuple[str, LocalServer], row: dict,
              label: str) -> None:
        track, server = target
        try:
            answer = http.post(f"{server.url}/predict", json={"rows": [_plain(row)]})
            if answer.status_code != 200:
                return
            self.sent[track] = self.sent.get(track, 0) + 1
            if self.feedback:
                prediction = answer.json()["predictions"][0]["prediction_id"]
                http.post(f"{server.url}/feedback",
                          json={"prediction_id": prediction, "label": label})
        except httpx.HTTPError:
            pass  # a server being replaced; the next request goes elsewhere


def _plain(row: dict) -> dict:
    return {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items()}
