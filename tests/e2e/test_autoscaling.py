"""Autoscaling on the real node (issue 29): a ModelDeployment with a CPU target scales a
real model server from 1 to at least 2 Ready replicas under a load this test generates, and
back to minReplicas after the load stops (scale-down stabilisation shortened to 30 s with
spec.serving.autoscaling.scaleDownStabilizationSeconds). The operator keeps every count the
autoscaler sets (no Restored Event) and reports the autoscaler in status.

Needs the resource metrics API (metrics-server) in the e2e cluster: skipped, saying so,
while the cluster does not serve it."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from vigia_devcluster.binaries import kubectl_path
from vigia_testbed import realnode as p
from vigia_testbed.kube import KubectlError, kubectl, wait_for
from vigia_testbed.pods import IMAGES, apply, tool_pod, wait_ready

pytestmark = pytest.mark.e2e

MODEL = "scaled"
CLIENT = "load"
MIN, MAX, CPU_TARGET, SCALE_DOWN_S = 1, 3, 50, 30
LOAD_SECONDS = 300  # the longest the load runs; stopped once a second replica is Ready
METRICS_API = "v1beta1.metrics.k8s.io"
# Runs in the client pod (the project image): 8 threads post 200 sample rows to /predict
# in a loop, a new connection per request (kube-proxy balances connections), for at most
# the given seconds; prints how many requests were answered.
LOAD_CODE = """
import json, subprocess, sys, threading, time, urllib.request
base, seconds = sys.argv[1], float(sys.argv[2])
subprocess.run(["vigia", "sample", "traffic", "--out", "/tmp/rows.jsonl", "--rows", "200",
                "--seed", "7", "--labels", "/tmp/labels.txt"], check=True)
body = json.dumps({"rows": [json.loads(line) for line in open("/tmp/rows.jsonl")]}).encode()
end, answered = time.monotonic() + seconds, [0]
def hammer():
    while time.monotonic() < end:
        request = urllib.request.Request(base + "/predict", body,
                                         {"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                response.read()
            answered[0] += 1
        except Exception:
            time.sleep(0.1)
threads = [threading.Thread(target=hammer) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
print(json.dumps({"answered": answered[0]}))
"""


def _metrics_served(kubeconfig: Path) -> bool:
    try:
        service = json.loads(kubectl(kubeconfig, "get", "apiservice", METRICS_API, "-o", "json"))
    except KubectlError:
        return False
    conditions = (service.get("status") or {}).get("conditions") or []
    return any(c["type"] == "Available" and c["status"] == "True" for c in conditions)


def autoscaled(name: str) -> dict[str, Any]:
    md = p.model_deployment(name, p.SAMPLE_URI)
    serving = md["spec"]["serving"]
    serving.pop("replicas", None)
    serving["autoscaling"] = {"minReplicas": MIN, "maxReplicas": MAX,
                              "target": {"cpuUtilization": CPU_TARGET},
                              "scaleDownStabilizationSeconds": SCALE_DOWN_S}
    return md


@pytest.fixture(scope="module")
def platform(kubeconfig: Path) -> Iterator[p.Platform]:
    p.install(kubeconfig)
    if not _metrics_served(kubeconfig):
        pytest.skip(f"the cluster does not serve {METRICS_API} (metrics-server not installed)")
    namespace = p.restricted_namespace(kubeconfig)
    apply(kubeconfig, autoscaled(MODEL), namespace=namespace)
    ready = p.wait_model_ready(kubeconfig, namespace, MODEL)
    client = tool_pod(CLIENT, image=IMAGES["vigia"])
    client["spec"]["containers"][0]["command"] = ["sleep", "infinity"]
    apply(kubeconfig, client, namespace=namespace)
    wait_ready(kubeconfig, namespace, f"pod/{CLIENT}")
    try:
        yield p.Platform(kubeconfig, namespace, {"apply_to_ready": ready})
    finally:
        kubectl(kubeconfig, "delete", "namespace", namespace, "--wait=false")


def _get(platform: p.Platform, *args: str) -> Any:
    return json.loads(kubectl(platform.kubeconfig, "-n", platform.namespace, "get", *args,
                              "-o", "json"))


def _ready(platform: p.Platform) -> int:
    status = _get(platform, "deployment", f"{MODEL}-stable").get("status") or {}
    return int(status.get("readyReplicas", 0))


def _start_load(platform: p.Platform) -> subprocess.Popen[str]:
    url = f"http://{MODEL}.{platform.namespace}.svc.cluster.local:80"
    return subprocess.Popen(
        [str(kubectl_path()), "--kubeconfig", str(platform.kubeconfig), "-n",
         platform.namespace, "exec", CLIENT, "--", "python3", "-c", LOAD_CODE, url,
         str(LOAD_SECONDS)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _stop_load(platform: p.Platform, load: subprocess.Popen[str]) -> None:
    # The pod's python is stopped with it: the exec session ends, then the pod is replaced.
    load.terminate()
    load.wait(30)
    kubectl(platform.kubeconfig, "-n", platform.namespace, "delete", "pod", CLIENT,
            "--wait=true", "--grace-period=0")


def test_a_cpu_target_scales_a_real_server_up_under_load_and_back_down(
        platform: p.Platform) -> None:
    hpa = _get(platform, "hpa", f"{MODEL}-stable")
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (MIN, MAX)
    assert _ready(platform) == MIN

    began = time.monotonic()
    load = _start_load(platform)
    try:
        wait_for(lambda: _ready(platform) >= 2, LOAD_SECONDS, "a second Ready replica")
        scaled_up = time.monotonic() - began
    finally:
        _stop_load(platform, load)
    status = _get(platform, "md", MODEL)["status"]["serving"]
    assert status["autoscaling"]["desiredReplicas"] >= 2
    print(f"\nfigure: load start to the second replica Ready: {scaled_up:.0f}s")

    stopped = time.monotonic()
    wait_for(lambda: _get(platform, "deployment", f"{MODEL}-stable")["spec"]["replicas"] == MIN,
             600, f"back to {MIN} replica(s)")
    print(f"figure: load stop to minReplicas ({MIN}): {time.monotonic() - stopped:.0f}s "
          f"(scale-down stabilisation {SCALE_DOWN_S}s)")

    events = _get(platform, "events", "--field-selector",
                  f"involvedObject.kind=ModelDeployment,involvedObject.name={MODEL}")["items"]
    reasons = [e["reason"] for e in events]
    assert "Restored" not in reasons, reasons
    assert "AutoscalerConditionChanged" in reasons
