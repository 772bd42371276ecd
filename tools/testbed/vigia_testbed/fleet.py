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
from typing import Any

import httpx
import numpy as np
from sklearn.dummy import DummyClassifier
from vigia_serving.local import LocalServer

from vigia.bundle import export_bundle, make_bundle
from vigia.sample import DEFECTIVE, GOOD, production_line, sample_pipeline
from vigia_testbed.kube import kubectl, wait_for
from vigia_testbed.operator import grant_secrets
from vigia_testbed.prometheus import PrometheusServer, Target

MODEL_NAME = "sobaos"
NAME = MODEL_NAME  # the ModelDeployment's name, which is the model label
ANALYSIS = {
    "interval": "10s", "minSamples": 40, "minFeedback": 40, "failureLimit": 2,
    # Tens of samples per window on one shared machine: p95 and per-feature PSI move by
    # chance; accuracyDrop's interval (on the labels since the canary started) is wide at
    # first. The limits are wide enough for a good canary and far below what an inverted
    # model measures.
    "gates": {"latencyP95": 5, "accuracyDrop": 0.25, "predictionShift": 1.0,
              "inputDrift": 1.0},
}
STEPS = [{"weight": 25, "pause": "10s"}, {"weight": 50, "pause": "10s"}]


def export_version(work: Path, version: str, *, seed: int, wrong_labels: bool = False,
                   constant: str | None = None) -> str:
    """A sample bundle named ``version``; ``wrong_labels`` trains it on inverted targets
    (a model whose accuracy on feedback is far below the stable's); ``constant`` makes it a
    model that always predicts that class (e.g. one that discards every sobao: inaccurate,
    but it never passes a defective one)."""
    X, y = production_line(1500, seed=seed)
    if wrong_labels:
        y = y.map({GOOD: DEFECTIVE, DEFECTIVE: GOOD})
    model = (sample_pipeline(seed) if constant is None
             else DummyClassifier(strategy="constant", constant=constant)).fit(X, y)
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
            "VIGIA_MODEL_VERSION": version,
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
        # No target labels: the servers label their series themselves, as with any scrape.
        self.prometheus.set_targets(
            Target(f"127.0.0.1:{server.port}") for server in self.servers.values())

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
    on_stop: Callable[[], None] | None = None
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
        if self.on_stop is not None:
            self.on_stop()

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


def apply_md(kubeconfig: Path, namespace: str, uri: str, version: str,
           steps: list[dict[str, Any]] = STEPS, monitoring: dict[str, Any] | None = None,
           **analysis: Any) -> None:
    secret = {
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "store", "namespace": namespace,
                     "labels": {"vigia.dev/model-access": "true"}},
        "stringData": {"url": "postgresql+psycopg://store/predictions"},
    }
    spec: dict[str, Any] = {
        "model": {"uri": uri, "version": version},
        "serving": {"replicas": 4, "predictionLog": {
            "storeSecretRef": {"name": "store", "key": "url"}}},
        "rollout": {"steps": steps, "analysis": {**ANALYSIS, **analysis}},
    }
    if monitoring is not None:
        spec["monitoring"] = monitoring
    body = {
        "apiVersion": "vigia.dev/v1alpha1", "kind": "ModelDeployment",
        "metadata": {"name": NAME, "namespace": namespace}, "spec": spec,
    }
    kubectl(kubeconfig, "apply", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "List", "items": [secret, body]}))
    grant_secrets(kubeconfig, namespace, ["store"])


def status_of(kubeconfig: Path, namespace: str) -> dict[str, Any]:
    out = kubectl(kubeconfig, "get", "md", NAME, "-n", namespace, "-o", "json")
    return dict(json.loads(out).get("status") or {})


def wait_status(kubeconfig: Path, namespace: str, check: Any, timeout: float,
                 what: str) -> dict[str, Any]:
    def ready() -> dict[str, Any] | None:
        status = status_of(kubeconfig, namespace)
        return status if check(status) else None

    try:
        return wait_for(ready, timeout, what)
    except AssertionError as error:
        status = status_of(kubeconfig, namespace)
        canary = status.get("canary") or {}
        seen = kubectl(kubeconfig, "get", "deploy,pods", "-n", namespace, "-o", "wide")
        seen += kubectl(kubeconfig, "get", "pods", "-n", namespace, "-o", "custom-columns="
                        "NAME:.metadata.name,PHASE:.status.phase,READY:.status.conditions"
                        "[?(@.type=='Ready')].status,WHY:.status.conditions"
                        "[?(@.type=='Ready')].reason")
        seen += kubectl(kubeconfig, "get", "nodes")
        raise AssertionError(
            f"{error}\ncanary: {canary.get('phase')} step {canary.get('step')}: "
            f"{canary.get('message')}\nlast analysis: {canary.get('lastAnalysis')}\n{seen}\n"
            f"{json.dumps(status, indent=1)[:6000]}") from None


def events_of(kubeconfig: Path, namespace: str) -> list[dict[str, Any]]:
    out = kubectl(kubeconfig, "get", "events", "-n", namespace, "-o", "json",
                  "--field-selector", f"involvedObject.name={NAME}")
    items = json.loads(out)["items"]
    return sorted(items, key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")


def events_after(kubeconfig: Path, namespace: str, last: str,
                 timeout: float = 10) -> list[dict[str, Any]]:
    """``events_of`` once the Event of reason ``last`` is posted: a decision's Events
    follow the status that records it, so a test that saw the status waits for them."""
    def posted() -> list[dict[str, Any]] | None:
        found = events_of(kubeconfig, namespace)
        return found if any(e["reason"] == last for e in found) else None

    return wait_for(posted, timeout, f"a {last} Event on {namespace}/{NAME}")


def stable_v1(kubeconfig: Path, namespace: str, fleet: Fleet, bundles: dict[str, str],
              **spec: Any) -> None:
    fleet.serve("stable", "v1", bundles["v1"])
    apply_md(kubeconfig, namespace, bundles["v1"], "v1", **spec)
    wait_status(kubeconfig, namespace,
                 lambda s: (s.get("stable") or {}).get("version") == "v1", 120, "stable v1")


class StatusFeed:
    """The ModelDeployment's status, read by one thread every ``period`` seconds: a
    kubectl call costs more CPU than a prediction, so never one per request."""

    def __init__(self, kubeconfig: Path, namespace: str, period: float = 0.5) -> None:
        self.kubeconfig, self.namespace, self.period = kubeconfig, namespace, period
        self.status: dict[str, Any] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> StatusFeed:
        self.status = status_of(self.kubeconfig, self.namespace)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            try:
                self.status = status_of(self.kubeconfig, self.namespace)
            except Exception:  # the API server busy: keep the last status
                continue


def client_for(fleet: Fleet, kubeconfig: Path, namespace: str, **kw: Any) -> Client:
    feed = StatusFeed(kubeconfig, namespace).start()

    def weight() -> int:
        return int((feed.status.get("canary") or {}).get("achievedWeight", 0))

    def stable() -> str:
        return str((feed.status.get("stable") or {}).get("version", "v1"))

    def canary() -> str | None:
        return (feed.status.get("canary") or {}).get("version")

    return Client(fleet, weight, stable, canary, on_stop=feed.stop, **kw).start()
