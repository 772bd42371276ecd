"""Pure builders of the documents the launcher writes: kubeconfigs and fake nodes."""

from __future__ import annotations

import base64
from typing import Any

from vigia_devcluster.pki import KeyPair

KWOK_NODE_LABEL = {"type": "kwok"}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def build_kubeconfig(server: str, ca_pem: bytes, user: str, client: KeyPair) -> dict[str, Any]:
    """A kubeconfig with one cluster, one client-certificate user and one context (all
    embedded, so the file can be copied elsewhere)."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "vigia",
                "cluster": {"server": server, "certificate-authority-data": _b64(ca_pem)},
            }
        ],
        "users": [
            {
                "name": user,
                "user": {
                    "client-certificate-data": _b64(client.cert_pem()),
                    "client-key-data": _b64(client.key_pem()),
                },
            }
        ],
        "contexts": [{"name": "vigia", "context": {"cluster": "vigia", "user": user}}],
        "current-context": "vigia",
    }


def build_fake_node(
    name: str, annotation: str, taints: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    """A Node that kwok manages (matched by annotation); status as kwok's docs suggest."""
    key, _, value = annotation.partition("=")
    capacity = {"cpu": "32", "memory": "256Gi", "pods": "110", "ephemeral-storage": "100Gi"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {key: value, "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {
                **KWOK_NODE_LABEL,
                "kubernetes.io/arch": "amd64",
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/role": "agent",
                "node-role.kubernetes.io/agent": "",
            },
        },
        "spec": {"taints": taints} if taints else {},
        "status": {
            "allocatable": capacity,
            "capacity": capacity,
            "nodeInfo": {
                "architecture": "amd64",
                "bootID": "",
                "containerRuntimeVersion": "kwok",
                "kernelVersion": "",
                "kubeletVersion": "fake",
                "kubeProxyVersion": "fake",
                "machineID": "",
                "operatingSystem": "linux",
                "osImage": "",
                "systemUUID": "",
            },
            "phase": "Running",
        },
    }
