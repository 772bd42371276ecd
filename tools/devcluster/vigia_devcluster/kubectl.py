"""kubectl (the one built from upstream sources) against a kubeconfig."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

from vigia_devcluster.binaries import kubectl_path


class KubectlError(RuntimeError):
    def __init__(self, args: list[str], returncode: int, stderr: str) -> None:
        super().__init__(f"kubectl {' '.join(args)} exited {returncode}: {stderr.strip()}")
        self.returncode = returncode
        self.stderr = stderr


def kubectl(kubeconfig: Path, *args: str, input: str | None = None, timeout: float = 120) -> str:
    """Run kubectl against `kubeconfig` and return its stdout; raise KubectlError on failure."""
    argv = [str(kubectl_path()), f"--kubeconfig={kubeconfig}", *args]
    result = subprocess.run(
        argv, input=input, capture_output=True, text=True, check=False, timeout=timeout
    )
    if result.returncode != 0:
        raise KubectlError(list(args), result.returncode, result.stderr)
    return result.stdout


def apply(kubeconfig: Path, *documents: dict[str, Any], namespace: str | None = None) -> None:
    """`kubectl apply` of the documents, as one List."""
    body = json.dumps({"apiVersion": "v1", "kind": "List", "items": list(documents)})
    kubectl(kubeconfig, "apply", "-f", "-", *(["-n", namespace] if namespace else []),
            input=body)


def get(kubeconfig: Path, *args: str) -> dict[str, Any]:
    """`kubectl get ARGS -o json`, parsed."""
    return dict(json.loads(kubectl(kubeconfig, "get", *args, "-o", "json")))


def wait_established(kubeconfig: Path, crds: list[str], timeout: float = 60) -> None:
    """Wait until every CRD (``name.group``) is Established. Not `kubectl wait`: a CRD just
    created has no conditions yet, which `kubectl wait` reports as an error at once."""
    query = '{.status.conditions[?(@.type=="Established")].status}'
    deadline = time.monotonic() + timeout
    for crd in crds:
        while kubectl(kubeconfig, "get", "crd", crd, "-o", f"jsonpath={query}") != "True":
            if time.monotonic() > deadline:
                raise TimeoutError(f"CRD {crd} not Established after {timeout:.0f} s")
            time.sleep(0.5)
