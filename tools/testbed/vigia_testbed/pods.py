"""Helpers of the e2e tests: image names, tool pods, exec."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from vigia_devcluster.images import references
from vigia_devcluster.kubectl import apply

from vigia_testbed.kube import kubectl, wait_for

__all__ = ["apply", "exec_in", "python_in", "tool_pod", "unique", "wait_ready"]

E2E_IMAGES = ["debian", "vigia", "postgresql", "prometheus", "prometheus-operator",
              "prometheus-config-reloader", "traefik"]
IMAGES = references()
RESTRICTED_SECURITY = {
    "runAsNonRoot": True,
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}


def tool_pod(name: str, image: str = IMAGES["debian"], command: list[str] | None = None,
             labels: dict[str, str] | None = None) -> dict[str, Any]:
    """A pod that satisfies Pod Security "restricted" and waits (or runs `command`)."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels or {"app": name}},
        "spec": {
            "terminationGracePeriodSeconds": 1,
            "securityContext": {"runAsUser": 10001, "runAsGroup": 10001},
            "containers": [{
                "name": "main",
                "image": image,
                "imagePullPolicy": "IfNotPresent",
                "command": command or ["sleep", "infinity"],
                "securityContext": RESTRICTED_SECURITY,
            }],
        },
    }


def wait_ready(kubeconfig: Path, namespace: str, what: str, timeout: float = 120) -> None:
    wait_for(lambda: kubectl(kubeconfig, "-n", namespace, "wait", "--for=condition=Ready",
                             "--timeout=5s", what) or True, timeout, f"{what} Ready")


def exec_in(kubeconfig: Path, namespace: str, pod: str, *command: str) -> str:
    return kubectl(kubeconfig, "-n", namespace, "exec", pod, "--", *command, timeout=60)


def python_in(kubeconfig: Path, namespace: str, pod: str, code: str) -> str:
    return exec_in(kubeconfig, namespace, pod, "python3", "-c", code)


def http_get_code(url: str) -> str:
    """Python source that prints the status and body of GET url (urllib only)."""
    return (
        "import urllib.request as u\n"
        f"r = u.urlopen({url!r}, timeout=10)\n"
        "print(r.status, r.read().decode())\n"
    )


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"
