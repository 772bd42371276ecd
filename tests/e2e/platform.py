"""Vigía as a user installs it, on the e2e cluster: `kubectl apply -k manifests/` (CRD, RBAC,
the operator's Deployment), `kubectl apply -k manifests/addons` (PostgreSQL, Prometheus,
the bundle volume with the sample bundle), and a namespace under Pod Security "restricted"."""

from __future__ import annotations

import contextlib
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from vigia_devcluster.binaries import kubectl_path

from tests.e2e.support import apply, unique
from tests.fixtures.kube import kubectl, wait_for
from tests.fixtures.net import free_port

ROOT = Path(__file__).resolve().parents[2]
SYSTEM = "vigia-system"
POSTGRES_HOST = f"vigia-postgresql.{SYSTEM}.svc.cluster.local"
# Until the operator mounts claims (pvc://), bundles reach the servers over HTTP.
BUNDLES_URL = f"http://vigia-bundles.{SYSTEM}.svc.cluster.local:8000"
# The bundle claim, bound in every model namespace to the node's bundle directory: the
# operator mounts a pvc:// claim read-only and hands the server a file:// path.
BUNDLES_CLAIM = "vigia-bundles"
SAMPLE_URI = f"pvc://{BUNDLES_CLAIM}/sobaos/1"
MISSING_URI = f"pvc://{BUNDLES_CLAIM}/nowhere/1"
# The label the operator's Secret policy asks of a Secret a ModelDeployment references.
SECRET_ACCESS_LABEL = {"vigia.dev/model-access": "true"}
STORE_SECRET = "vigia-store"


@dataclass
class Platform:
    kubeconfig: Path
    namespace: str  # restricted; the model servers run here
    ready_seconds: dict[str, float]


def install(kubeconfig: Path) -> None:
    """The shipped manifests and the add-ons, each waited for."""
    kubectl(kubeconfig, "apply", "-k", str(ROOT / "manifests"), timeout=120)
    kubectl(kubeconfig, "apply", "-k", str(ROOT / "manifests/addons"), timeout=120)
    for deployment in ("vigia-operator", "vigia-postgresql", "vigia-prometheus", "vigia-bundles"):
        kubectl(kubeconfig, "-n", SYSTEM, "rollout", "status", f"deployment/{deployment}",
                "--timeout=300s", timeout=320)
    kubectl(kubeconfig, "-n", SYSTEM, "wait", "--for=condition=Complete",
            "job/vigia-sample-bundle", "--timeout=300s", timeout=320)


def restricted_namespace(kubeconfig: Path) -> str:
    name = unique("vigia-e2e")
    apply(kubeconfig, {
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": name, "labels": {
            "pod-security.kubernetes.io/enforce": "restricted",
            "pod-security.kubernetes.io/enforce-version": "latest"}},
    })
    wait_for(lambda: kubectl(kubeconfig, "get", "serviceaccount", "default", "-n", name),
             60, f"ServiceAccount default in {name}")
    password = kubectl(kubeconfig, "-n", SYSTEM, "get", "secret", "vigia-postgresql",
                       "-o", "jsonpath={.data.password}")
    import base64

    url = (f"postgresql+psycopg://vigia:{base64.b64decode(password).decode()}"
           f"@{POSTGRES_HOST}:5432/vigia")
    apply(kubeconfig, {"apiVersion": "v1", "kind": "Secret",
                       "metadata": {"name": STORE_SECRET, "namespace": name,
                                    "labels": SECRET_ACCESS_LABEL},
                       "stringData": {"url": url}})
    bundles_claim(kubeconfig, name)
    return name


def bundles_claim(kubeconfig: Path, namespace: str) -> None:
    """A read-only claim `vigia-bundles` in `namespace` on the same storage as the system's
    (a volume of its own, since a volume binds one claim)."""
    import json

    system_volume = json.loads(kubectl(kubeconfig, "get", "pv", BUNDLES_CLAIM, "-o", "json"))
    volume = f"{BUNDLES_CLAIM}-{namespace}"
    spec = {k: v for k, v in system_volume["spec"].items() if k not in ("claimRef",)}
    spec.update(accessModes=["ReadOnlyMany"], persistentVolumeReclaimPolicy="Retain",
                claimRef={"namespace": namespace, "name": BUNDLES_CLAIM})
    apply(kubeconfig, {"apiVersion": "v1", "kind": "PersistentVolume",
                       "metadata": {"name": volume}, "spec": spec})
    apply(kubeconfig, {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                       "metadata": {"name": BUNDLES_CLAIM, "namespace": namespace},
                       "spec": {"accessModes": ["ReadOnlyMany"], "storageClassName": "",
                                "volumeName": volume,
                                "resources": {"requests": {"storage": "1Gi"}}}})


def model_deployment(name: str, uri: str, *, store: bool = True) -> dict[str, Any]:
    """The shipped sample, with its model at `uri` and its log in PostgreSQL."""
    sample = yaml.safe_load((ROOT / "manifests/samples/modeldeployment.yaml").read_text())
    sample["metadata"]["name"] = name
    sample["spec"]["model"]["uri"] = uri
    serving = sample["spec"]["serving"]
    serving["resources"] = {"requests": {"cpu": "100m", "memory": "256Mi"},
                            "limits": {"memory": "1Gi"}}
    if store:
        serving["predictionLog"] = {"storeSecretRef": {"name": STORE_SECRET, "key": "url"}}
    sample["spec"]["retraining"]["enabled"] = False
    return sample


def ready_condition(kubeconfig: Path, namespace: str, name: str) -> dict[str, Any]:
    md = yaml.safe_load(kubectl(kubeconfig, "-n", namespace, "get", "modeldeployment", name,
                                "-o", "yaml"))
    for condition in md.get("status", {}).get("conditions", []):
        if condition["type"] == "Ready":
            return dict(condition)
    return {}


def wait_model_ready(kubeconfig: Path, namespace: str, name: str, timeout: float = 300) -> float:
    """Seconds until the ModelDeployment says Ready=True."""
    began = time.monotonic()
    wait_for(lambda: ready_condition(kubeconfig, namespace, name).get("status") == "True",
             timeout, f"ModelDeployment {name} Ready", interval=1)
    return time.monotonic() - began


@contextlib.contextmanager
def port_forward(kubeconfig: Path, namespace: str, target: str, port: int) -> Iterator[str]:
    """`kubectl port-forward target local:port`; yields http://127.0.0.1:local."""
    local = free_port()
    process = subprocess.Popen(
        [str(kubectl_path()), f"--kubeconfig={kubeconfig}", "-n", namespace, "port-forward",
         target, f"{local}:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    url = f"http://127.0.0.1:{local}"
    try:
        wait_for(lambda: _answers(url), 60, f"port-forward to {target}")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def _answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url + "/", timeout=3)
    except urllib.error.HTTPError:
        return True  # any HTTP answer: the tunnel is up
    except OSError:
        return False
    return True
