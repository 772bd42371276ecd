"""Vigía as a user installs it, on the e2e cluster (``vigia_loop.platform``: the shipped
manifests and add-ons, a namespace under Pod Security "restricted"), and the e2e tests'
own sample ModelDeployment and port-forward."""

from __future__ import annotations

import contextlib
import subprocess
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from vigia_devcluster.binaries import kubectl_path
from vigia_devcluster.kubectl import get
from vigia_loop import platform as loop
from vigia_loop.platform import (
    BUNDLES_CLAIM,
    SAMPLE_URI,
    STORE_SECRET,
    SYSTEM,
    install,
    wait_model_ready,
)

from vigia_testbed.kube import wait_for
from vigia_testbed.net import free_port
from vigia_testbed.pods import unique

__all__ = ["SAMPLE_URI", "SYSTEM", "install", "wait_model_ready"]

ROOT = Path(__file__).resolve().parents[3]
MISSING_URI = f"pvc://{BUNDLES_CLAIM}/nowhere/1"


@dataclass
class Platform:
    kubeconfig: Path
    namespace: str  # restricted; the model servers run here
    ready_seconds: dict[str, float]


def restricted_namespace(kubeconfig: Path) -> str:
    return loop.restricted_namespace(kubeconfig, unique("vigia-e2e"))


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
    md = get(kubeconfig, "-n", namespace, "modeldeployment", name)
    return loop.condition(md.get("status") or {}, "Ready")


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
