"""Monitoring on the real node: the sample model's pods scraped by the add-on Prometheus
(kubernetes_sd, the shipped recording rules), the operator in the cluster querying it,
and drift reported in the ModelDeployment's status.

Traffic comes from a pod in the model's namespace (`vigia sample traffic`, with
feedback). The operator ticks every 10 s here (60 s as shipped); the rules run every minute.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e import platform as p
from tests.e2e.support import IMAGES, apply, tool_pod, wait_ready
from tests.fixtures.kube import kubectl, wait_for

pytestmark = pytest.mark.e2e

MODEL = "watched"
CLIENT = "traffic"
# Sends rows in batches of 100 through the Service, with the true label of each as feedback.
CLIENT_CODE = """
import json, subprocess, sys, urllib.request
base, rows, seed, drift = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
subprocess.run(["vigia", "sample", "traffic", "--out", "/tmp/rows.jsonl", "--rows", str(rows),
                "--seed", seed, "--drift", drift, "--labels", "/tmp/labels.txt"], check=True)
records = [json.loads(line) for line in open("/tmp/rows.jsonl")]
labels = open("/tmp/labels.txt").read().split()
def post(path, body):
    request = urllib.request.Request(base + path, json.dumps(body).encode(),
                                     {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read() or b"null")
sent = 0
for start in range(0, len(records), 100):
    answer = post("/predict", {"rows": records[start:start + 100]})
    for prediction, label in zip(answer["predictions"], labels[start:start + 100]):
        post("/feedback", {"prediction_id": prediction["prediction_id"], "label": label})
    sent += len(answer["predictions"])
print(sent)
"""


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
    service = json.loads(kubectl(platform.kubeconfig, "-n", platform.namespace, "get",
                                 "services", "-l", f"app.kubernetes.io/instance={MODEL}",
                                 "-o", "json"))["items"][0]
    url = f"http://{service['spec']['clusterIP']}:{service['spec']['ports'][0]['port']}"
    out = kubectl(platform.kubeconfig, "-n", platform.namespace, "exec", CLIENT, "--",
                  "python3", "-c", CLIENT_CODE, url, str(rows), str(seed), str(drift),
                  timeout=300)
    return int(out.strip().splitlines()[-1])


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
