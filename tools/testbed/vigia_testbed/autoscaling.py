"""Autoscaling on the real node (issue 29), shared by tests/e2e/test_serving_autoscaling.py and
benchmarks/autoscale.py: an autoscaled (or a fixed) sample ModelDeployment, a load from a
client pod in the cluster, and the stable Deployment's replica counts."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any, Final

from vigia_devcluster.binaries import kubectl_path
from vigia_devcluster.kubectl import get

from vigia_testbed import realnode as p
from vigia_testbed.kube import wait_for
from vigia_testbed.pods import IMAGES, tool_pod

MIN_REPLICAS: Final = 1
MAX_REPLICAS: Final = 3
CPU_TARGET: Final = 50  # % of the server's requests.cpu (100m: realnode.model_deployment)
SCALE_DOWN_S: Final = 30  # scaleDownStabilizationSeconds (the HPA's default is 300)
LOAD_THREADS: Final = 8
ROWS_PER_REQUEST: Final = 200
# Runs in the client pod (the project image): LOAD_THREADS threads post ROWS_PER_REQUEST
# sample rows to /predict in a loop, a new connection per request (kube-proxy balances
# connections), for at most the given seconds; prints one JSON line: how many requests were
# answered, how many failed, and each answered one's [wall-clock end, seconds taken].
LOAD_CODE: Final = f"""
import json, subprocess, sys, threading, time, urllib.request
base, seconds = sys.argv[1], float(sys.argv[2])
subprocess.run(["vigia", "sample", "traffic", "--out", "/tmp/rows.jsonl", "--rows",
                "{ROWS_PER_REQUEST}", "--seed", "7", "--labels", "/tmp/labels.txt"], check=True)
body = json.dumps({{"rows": [json.loads(line) for line in open("/tmp/rows.jsonl")]}}).encode()
end, latencies, failed = time.monotonic() + seconds, [], [0]
def hammer():
    while time.monotonic() < end:
        request = urllib.request.Request(base + "/predict", body,
                                         {{"Content-Type": "application/json"}})
        began = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                response.read()
            latencies.append([time.time(), time.monotonic() - began])
        except Exception:
            failed[0] += 1
            time.sleep(0.1)
threads = [threading.Thread(target=hammer) for _ in range({LOAD_THREADS})]
for t in threads: t.start()
for t in threads: t.join()
print(json.dumps({{"answered": len(latencies), "failed": failed[0], "latencies": latencies}}))
"""


def autoscaled(name: str) -> dict[str, Any]:
    """The e2e sample with a CPU target instead of a fixed count."""
    md = p.model_deployment(name, p.SAMPLE_URI)
    serving = md["spec"]["serving"]
    serving.pop("replicas", None)
    serving["autoscaling"] = {"minReplicas": MIN_REPLICAS, "maxReplicas": MAX_REPLICAS,
                              "target": {"cpuUtilization": CPU_TARGET},
                              "scaleDownStabilizationSeconds": SCALE_DOWN_S}
    return md


def fixed(name: str, replicas: int) -> dict[str, Any]:
    """The same sample at a fixed count (the baseline the autoscaled one is compared to)."""
    md = p.model_deployment(name, p.SAMPLE_URI)
    md["spec"]["serving"]["replicas"] = replicas
    return md


def client_pod(name: str) -> dict[str, Any]:
    """A restricted pod of the project image that waits for `kubectl exec`."""
    return tool_pod(name, image=IMAGES["vigia"], command=["sleep", "infinity"])


def stable(kubeconfig: Path, namespace: str, model: str) -> dict[str, Any]:
    return get(kubeconfig, "-n", namespace, "deployment", f"{model}-stable")


def ready_replicas(kubeconfig: Path, namespace: str, model: str) -> int:
    status = stable(kubeconfig, namespace, model).get("status") or {}
    return int(status.get("readyReplicas", 0))


def desired_replicas(kubeconfig: Path, namespace: str, model: str) -> int:
    return int(stable(kubeconfig, namespace, model)["spec"]["replicas"])


def wait_settled(kubeconfig: Path, namespace: str, model: str, replicas: int,
                 timeout: float = 300) -> None:
    """Until the stable Deployment wants and has ``replicas`` Ready (a server's start-up
    work can look like load to the autoscaler for a while)."""
    def settled() -> bool:
        return (desired_replicas(kubeconfig, namespace, model) == replicas
                and ready_replicas(kubeconfig, namespace, model) == replicas)

    wait_for(settled, timeout, f"{model}-stable at {replicas} Ready replica(s)", interval=2)


def wait_scaling_active(kubeconfig: Path, namespace: str, model: str,
                        timeout: float = 180) -> None:
    """Until the model's HorizontalPodAutoscaler reads its metric (ScalingActive=True): the
    resource metrics API has its pods' usage."""
    def active() -> bool:
        hpa = get(kubeconfig, "-n", namespace, "hpa", f"{model}-stable")
        conditions = (hpa.get("status") or {}).get("conditions") or []
        return any(c["type"] == "ScalingActive" and c["status"] == "True" for c in conditions)

    wait_for(active, timeout, f"HPA {model}-stable ScalingActive", interval=2)


def service_url(kubeconfig: Path, namespace: str, model: str) -> str:
    """The model's Service inside the cluster (the one the operator labels with it)."""
    [service, *_] = get(kubeconfig, "-n", namespace, "services", "-l",
                        f"app.kubernetes.io/instance={model}")["items"]
    return (f"http://{service['metadata']['name']}.{namespace}.svc.cluster.local:"
            f"{service['spec']['ports'][0]['port']}")


def start_load(kubeconfig: Path, namespace: str, client: str, url: str,
               seconds: float) -> subprocess.Popen[str]:
    """LOAD_CODE in ``client`` against ``url`` for at most ``seconds`` (stdout: its JSON)."""
    return subprocess.Popen(
        [str(kubectl_path()), "--kubeconfig", str(kubeconfig), "-n", namespace, "exec",
         client, "--", "python3", "-c", LOAD_CODE, url, str(seconds)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def load_result(load: subprocess.Popen[str], timeout: float) -> dict[str, Any]:
    """The load's JSON line, once it has run its course."""
    out, err = load.communicate(timeout=timeout)
    if load.returncode != 0:
        raise RuntimeError(f"the load failed ({load.returncode}): {err[-2000:]}")
    return dict(json.loads(out.strip().splitlines()[-1]))
