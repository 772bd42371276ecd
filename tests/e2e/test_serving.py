"""Vigía installed from its manifests on a real node: the operator (the shipped Deployment
under the shipped RBAC) rolls out the sample model; the server loads it for real (the
readiness probe reaches /readyz); /predict and /feedback answer through the Service from a
pod in the cluster and through `kubectl port-forward`; Prometheus scrapes the pod; predictions
and feedback live in PostgreSQL and survive the pod's deletion; the namespace enforces Pod
Security "restricted"; a model that does not exist never shows Ready."""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from vigia_loop.platform import server_counts
from vigia_serving.store import feedback
from vigia_testbed import realnode as p
from vigia_testbed.kube import KubectlError, kubectl, wait_for
from vigia_testbed.pods import IMAGES, apply, python_in, tool_pod, wait_ready

from vigia import metrics

pytestmark = pytest.mark.e2e

MODEL = "sobaos"
SERVER_PORT = 3000
CLIENT = "client"
# Runs in the client pod (the project image): sample rows from `vigia sample traffic`, each
# predicted and its true label sent as feedback through the Service; prints what was acked.
CLIENT_CODE = """
import json, subprocess, sys, urllib.request
base, rows, seed = sys.argv[1], int(sys.argv[2]), sys.argv[3]
subprocess.run(["vigia", "sample", "traffic", "--out", "/tmp/rows.jsonl", "--rows", str(rows),
                "--seed", seed, "--labels", "/tmp/labels.txt"], check=True)
records = [json.loads(line) for line in open("/tmp/rows.jsonl")]
labels = open("/tmp/labels.txt").read().split()
def post(path, body):
    request = urllib.request.Request(base + path, json.dumps(body).encode(),
                                     {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, json.loads(response.read() or b"null")
status, body = post("/predict", {"rows": records})
ids = [p["prediction_id"] for p in body["predictions"]]
acked = []
for i, label in zip(ids, labels):
    if post("/feedback", {"prediction_id": i, "label": label})[0] < 300:
        acked.append(i)
print(json.dumps({"predicted": ids, "acked": acked}))
"""


@pytest.fixture(scope="module")
def platform(kubeconfig: Path) -> Iterator[p.Platform]:
    p.install(kubeconfig)
    namespace = p.restricted_namespace(kubeconfig)
    began = time.monotonic()
    apply(kubeconfig, p.model_deployment(MODEL, p.SAMPLE_URI), namespace=namespace)
    ready = p.wait_model_ready(kubeconfig, namespace, MODEL)
    print(f"\nfigure: apply-to-Ready of one ModelDeployment on the real node: {ready:.1f}s "
          f"(operator's wait included: {time.monotonic() - began:.1f}s)")
    client = tool_pod(CLIENT, image=IMAGES["vigia"])
    client["spec"]["containers"][0]["command"] = ["sleep", "infinity"]
    apply(kubeconfig, client, namespace=namespace)
    wait_ready(kubeconfig, namespace, f"pod/{CLIENT}")
    try:
        yield p.Platform(kubeconfig, namespace, {"apply_to_ready": ready})
    finally:
        kubectl(kubeconfig, "delete", "namespace", namespace, "--wait=false")


def _server_pods(platform: p.Platform) -> list[dict[str, Any]]:
    pods = json.loads(kubectl(platform.kubeconfig, "-n", platform.namespace, "get", "pods",
                              "-l", f"app.kubernetes.io/instance={MODEL}", "-o", "json"))
    return [pod for pod in pods["items"] if not pod["metadata"].get("deletionTimestamp")]


def _service_url(platform: p.Platform) -> str:
    service = json.loads(kubectl(platform.kubeconfig, "-n", platform.namespace, "get",
                                 "services", "-l", f"app.kubernetes.io/instance={MODEL}",
                                 "-o", "json"))["items"][0]
    port = service["spec"]["ports"][0]["port"]
    return f"http://{service['metadata']['name']}.{platform.namespace}.svc.cluster.local:{port}"


def _run_client(platform: p.Platform, rows: int, seed: int) -> dict[str, list[str]]:
    out = kubectl(platform.kubeconfig, "-n", platform.namespace, "exec", CLIENT, "--",
                  "python3", "-c", CLIENT_CODE, _service_url(platform), str(rows), str(seed),
                  timeout=120)
    result: dict[str, list[str]] = json.loads(out.strip().splitlines()[-1])
    return result


def _psql(platform: p.Platform, sql: str) -> str:
    return kubectl(platform.kubeconfig, "-n", p.SYSTEM, "exec", "deployment/vigia-postgresql",
                   "--", "psql", "-h", "/tmp", "-U", "vigia", "-d", "vigia", "-At", "-c", sql)


def test_the_model_server_is_ready_for_real(platform: p.Platform) -> None:
    [pod] = _server_pods(platform)
    [status] = pod["status"]["containerStatuses"]
    assert status["ready"] and status["image"].endswith(IMAGES["vigia"].split("/", 1)[1])
    assert pod["spec"]["nodeName"]  # a node that runs containers, not a fake
    assert "running" in status["state"]
    probe = pod["spec"]["containers"][0]["readinessProbe"]["httpGet"]
    assert probe["path"] == "/readyz"


def test_predict_and_feedback_through_the_service_from_a_pod(platform: p.Platform) -> None:
    result = _run_client(platform, rows=20, seed=3)
    assert len(result["predicted"]) == 20
    assert result["acked"] == result["predicted"]


def test_predict_through_port_forward(platform: p.Platform) -> None:
    [pod] = _server_pods(platform)
    with p.port_forward(platform.kubeconfig, platform.namespace, f"pod/{pod['metadata']['name']}",
                        SERVER_PORT) as url:
        rows = [json.loads(line) for line in python_in(
            platform.kubeconfig, platform.namespace, CLIENT,
            "import subprocess; print(subprocess.run(['vigia', 'sample', 'traffic', '--out', '-',"
            " '--rows', '3'], capture_output=True, text=True, check=True).stdout)",
        ).split("\n") if line.strip()]
        request = urllib.request.Request(url + "/predict", json.dumps({"rows": rows}).encode(),
                                         {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            predictions = json.loads(response.read())["predictions"]
    assert len(predictions) == 3
    assert all(p_["prediction_id"] for p_ in predictions)


def test_prometheus_scrapes_the_model_server_pod(platform: p.Platform) -> None:
    _run_client(platform, rows=5, seed=4)
    [pod] = _server_pods(platform)
    name = pod["metadata"]["name"]
    query = f'vigia_predictions_total{{namespace="{platform.namespace}",pod="{name}"}}'
    # The server's request series carry the same identity, labelled by the server itself
    # (the canary's gates read them; the scrape adds no label but pod).
    requests = (f'{metrics.REQUESTS_SERIES}{{namespace="{platform.namespace}",model="{MODEL}",'
                f'endpoint="/predict"}}')
    # The newest sample may predate the requests by up to a scrape interval: wait for the
    # scrape that counts them (a pod that never counts them fails, with both sides' view).
    with p.port_forward(platform.kubeconfig, p.SYSTEM, "service/vigia-prometheus", 9090) as url:
        try:
            found = wait_for(lambda: _counted(_series(url, query), 5), 90,
                             f"Prometheus counting 5 predictions in {query}", interval=2)
        except AssertionError as error:
            raise AssertionError(
                f"{error}\ntargets: {_targets(url)}\nthe server counts:\n"
                f"{server_counts(platform.kubeconfig, platform.namespace)}") from None
        counted = wait_for(lambda: _series(url, requests), 60,
                           f"Prometheus series {requests}", interval=2)
    assert {s["metric"]["model"] for s in found} == {MODEL}
    assert {s["metric"]["track"] for s in found} == {"stable"}
    assert {(s["metric"]["track"], bool(s["metric"].get("version"))) for s in counted} == {
        ("stable", True)}


def _counted(series: list[Any], at_least: float) -> list[Any] | None:
    """The series, once their values add up to ``at_least``."""
    return series if sum(float(s["value"][1]) for s in series) >= at_least else None


def _targets(prometheus: str) -> list[dict[str, Any]]:
    """Prometheus's active targets: address, health and last error of each."""
    with urllib.request.urlopen(f"{prometheus}/api/v1/targets?state=active",
                                timeout=10) as response:
        active = json.loads(response.read())["data"]["activeTargets"]
    return [{k: t.get(k) for k in ("scrapeUrl", "health", "lastError", "lastScrape")}
            for t in active]


def _series(prometheus: str, query: str) -> list[Any]:
    """The instant query's series (empty until scraped)."""
    address = f"{prometheus}/api/v1/query?query={urllib.parse.quote(query)}"
    with urllib.request.urlopen(address, timeout=10) as response:
        found: list[Any] = json.loads(response.read())["data"]["result"]
        return found


def test_feedback_survives_the_pods_deletion(platform: p.Platform) -> None:
    before = _run_client(platform, rows=10, seed=5)
    [old] = _server_pods(platform)
    kubectl(platform.kubeconfig, "-n", platform.namespace, "delete", "pod",
            old["metadata"]["name"], "--wait=true", timeout=120)
    wait_for(lambda: [q for q in _server_pods(platform)
                      if all(s["ready"] for s in q["status"].get("containerStatuses", [{}]))
                      and q["metadata"]["name"] != old["metadata"]["name"]],
             300, "a new ready model-server pod")
    ids = ",".join(f"'{i}'" for i in before["acked"])
    column = feedback.c.prediction_id.name
    stored = _psql(platform, f"SELECT count(*) FROM {feedback.name} WHERE {column} IN ({ids})")
    assert int(stored) == len(before["acked"]) == 10


def test_the_namespace_enforces_restricted(platform: p.Platform) -> None:
    privileged = tool_pod("privileged")
    privileged["spec"]["containers"][0]["securityContext"] = {"privileged": True}
    with pytest.raises(KubectlError, match="violates PodSecurity"):
        apply(platform.kubeconfig, privileged, namespace=platform.namespace)


def test_a_missing_model_never_shows_ready(platform: p.Platform) -> None:
    name = "missing"
    apply(platform.kubeconfig, p.model_deployment(name, p.MISSING_URI,
                                                  store=False), namespace=platform.namespace)
    deadline = time.monotonic() + 60
    seen: dict[str, Any] = {}
    while time.monotonic() < deadline:
        seen = p.ready_condition(platform.kubeconfig, platform.namespace, name)
        assert seen.get("status") != "True", seen
        time.sleep(2)
    assert seen.get("status") == "False"
    assert "0/1" in seen.get("message", "") or "unavailable" in seen.get("message", "").lower()
    pods = json.loads(kubectl(platform.kubeconfig, "-n", platform.namespace, "get", "pods",
                              "-l", f"app.kubernetes.io/instance={name}", "-o", "json"))["items"]
    assert pods and not any(s["ready"] for q in pods
                            for s in q["status"].get("containerStatuses", []))
