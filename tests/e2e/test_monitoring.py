"""Monitoring on the real node: the sample model's pods scraped by the add-on Prometheus
(kubernetes_sd, the shipped recording rules), the operator in the cluster querying it,
and drift reported in the ModelDeployment's status.

Traffic comes from a pod in the model's namespace (`vigia sample send`, with
feedback). The operator ticks every 10 s here (60 s as shipped); the rules run every minute.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from vigia_loop.loop import send_command

from tests.e2e import platform as p
from tests.e2e.support import IMAGES, apply, tool_pod, wait_ready
from tests.fixtures.kube import kubectl, wait_for

pytestmark = pytest.mark.e2e

MODEL = "watched"
CLIENT = "traffic"  # `vigia sample send`: rows through the Service, each label sent back


@pytest.fixture(scope="module")
def watched(kubeconfig: Path) -> Iterator[p.Platform]:
    p.install(kubeconfig, tick_seconds=10)
    namespace = p.restricted_namespace(kubeconfig)
    md = p.model_deployment(MODEL, p.SAMPLE_URI)
    md["spec"]["monitoring"]["drift"]["minSamples"] = 300
    apply(kubeconfig, md, namespace=namespace)
    p.wait_model_ready(kubeconfig, namespace, MODEL)
    client = tool_pod(CLIENT, image=IMAGES["vigia"])
    client["spec"]["containers"][0]["command"] = ["sleep", "infinity"]
    apply(kubeconfig, client, namespace=namespace)
    wait_ready(kubeconfig, namespace, f"pod/{CLIENT}")
    try:
        yield p.Platform(kubeconfig, namespace, {})
    finally:
        kubectl(kubeconfig, "delete", "namespace", namespace, "--wait=false")


def _send(platform: p.Platform, rows: int, seed: int, drift: float) -> int:
    command = send_command(platform.namespace, rows=rows, seed=seed, drift=drift, model=MODEL)
    out = kubectl(platform.kubeconfig, "-n", platform.namespace, "exec", CLIENT, "--",
                  *command, timeout=300)
    sent = json.loads(out.strip().splitlines()[-1])
    assert sent["errors"] == 0, sent["lastError"]
    return int(sent["rows"])


def _md(platform: p.Platform) -> dict[str, Any]:
    return dict(json.loads(kubectl(platform.kubeconfig, "-n", platform.namespace, "get", "md",
                                   MODEL, "-o", "json")))


def _condition(md: dict[str, Any], type_: str) -> dict[str, Any]:
    return next((c for c in (md.get("status") or {}).get("conditions") or []
                 if c["type"] == type_), {})


def _wait_monitoring(platform: p.Platform, check: Any, what: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        md = _md(platform)
        return md if check(md) else None

    try:
        return wait_for(done, 300, what, interval=5)
    except AssertionError as error:
        status = _md(platform).get("status") or {}
        raise AssertionError(f"{error}\nmonitoring: {json.dumps(status.get('monitoring'))}\n"
                             f"conditions: {json.dumps(status.get('conditions'))}") from None


def test_normal_traffic_is_measured_and_not_drifted(watched: p.Platform) -> None:
    assert _send(watched, rows=600, seed=11, drift=0) == 600
    md = _wait_monitoring(
        watched, lambda m: _condition(m, "Drifted").get("status") == "False",
        "monitoring evaluated on 600 normal rows")
    monitoring = md["status"]["monitoring"]
    assert monitoring["samples"]["predictions"] >= 300  # counted from the pods' metrics
    assert monitoring["drift"]["features"] == []
    assert _condition(md, "Drifted")["reason"] == "NoDrift"
    assert "highest PSI" in _condition(md, "Drifted")["message"]


def test_drifted_traffic_is_flagged_naming_features(watched: p.Platform) -> None:
    assert _send(watched, rows=1500, seed=12, drift=1) == 1500
    md = _wait_monitoring(
        watched, lambda m: _condition(m, "Drifted").get("status") == "True",
        "Drifted after 1,500 drifted rows")
    drifted = _condition(md, "Drifted")
    features = md["status"]["monitoring"]["drift"]["features"]
    assert features and all(f in drifted["message"] for f in features)
    assert all(md["status"]["monitoring"]["drift"]["scores"][f] > 0.2 for f in features)
    print(f"\nfigure: Drifted on the real node: {drifted['message']}")
