"""The control plane schedules, runs (through kwok) and garbage-collects real workloads."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from vigia_testbed.kube import kubectl, wait_for

pytestmark = pytest.mark.integration


def get_json(kubeconfig: Path, *args: str) -> Any:
    return json.loads(kubectl(kubeconfig, "get", *args, "-o", "json"))


def condition(obj: dict[str, Any], kind: str) -> str | None:
    for item in obj.get("status", {}).get("conditions", []):
        if item["type"] == kind:
            return str(item["status"])
    return None


def apply(kubeconfig: Path, namespace: str, manifest: dict[str, Any]) -> None:
    kubectl(kubeconfig, "apply", "-n", namespace, "-f", "-", input=json.dumps(manifest))


def deployment(name: str, replicas: int) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "app", "image": "vigia.invalid/app:1"}]},
            },
        },
    }


def test_deployment_pods_land_on_kwok_nodes_and_become_ready(
    kubeconfig: Path, namespace: str
) -> None:
    apply(kubeconfig, namespace, deployment("web", replicas=3))

    wait_for(
        lambda: condition(get_json(kubeconfig, "deployment", "web", "-n", namespace),
                          "Available") == "True",
        120, "Deployment web Available",
    )
    pods = get_json(kubeconfig, "pods", "-n", namespace, "-l", "app=web")["items"]
    kwok_nodes = {
        node["metadata"]["name"]
        for node in get_json(kubeconfig, "nodes", "-l", "type=kwok")["items"]
    }
    assert len(pods) == 3
    for pod in pods:
        assert pod["spec"]["nodeName"] in kwok_nodes
        assert condition(pod, "Ready") == "True"
        assert pod["status"]["podIP"]
    deployment_status = get_json(kubeconfig, "deployment", "web", "-n", namespace)["status"]
    assert deployment_status["readyReplicas"] == 3


def test_job_pod_runs_to_completion(kubeconfig: Path, namespace: str) -> None:
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "once"},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "work", "image": "vigia.invalid/job:1"}],
                }
            },
        },
    }
    apply(kubeconfig, namespace, job)

    wait_for(
        lambda: condition(get_json(kubeconfig, "job", "once", "-n", namespace),
                          "Complete") == "True",
        120, "Job once Complete",
    )
    assert get_json(kubeconfig, "job", "once", "-n", namespace)["status"]["succeeded"] == 1
    pods = get_json(kubeconfig, "pods", "-n", namespace, "-l", "job-name=once")["items"]
    assert [pod["status"]["phase"] for pod in pods] == ["Succeeded"]


def test_garbage_collector_deletes_dependents_of_a_deleted_owner(
    kubeconfig: Path, namespace: str
) -> None:
    kubectl(kubeconfig, "create", "configmap", "owner", "-n", namespace)
    owner_uid = get_json(kubeconfig, "configmap", "owner", "-n", namespace)["metadata"]["uid"]
    for name in ("child-a", "child-b"):
        apply(kubeconfig, namespace, {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": name,
                "ownerReferences": [
                    {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner_uid}
                ],
            },
        })
    kubectl(kubeconfig, "create", "configmap", "bystander", "-n", namespace)

    kubectl(kubeconfig, "delete", "configmap", "owner", "-n", namespace, "--cascade=background")

    def remaining_children() -> list[str]:
        names = [item["metadata"]["name"]
                 for item in get_json(kubeconfig, "configmaps", "-n", namespace)["items"]]
        return [name for name in names if name.startswith("child-")]

    wait_for(lambda: not remaining_children(), 60, "dependents garbage-collected")
    kubectl(kubeconfig, "get", "configmap", "bystander", "-n", namespace)


def test_foreground_deletion_of_a_deployment_removes_its_replicasets_and_pods(
    kubeconfig: Path, namespace: str
) -> None:
    apply(kubeconfig, namespace, deployment("gone", replicas=2))
    wait_for(lambda: len(get_json(kubeconfig, "pods", "-n", namespace, "-l", "app=gone")
                         ["items"]) == 2, 120, "2 pods of Deployment gone")

    kubectl(kubeconfig, "delete", "deployment", "gone", "-n", namespace, "--cascade=foreground")

    assert get_json(kubeconfig, "replicasets", "-n", namespace, "-l", "app=gone")["items"] == []
    wait_for(lambda: get_json(kubeconfig, "pods", "-n", namespace, "-l", "app=gone")["items"]
             == [], 60, "pods of Deployment gone deleted")


def test_deleting_a_namespace_removes_it_with_its_pods(kubeconfig: Path) -> None:
    name = f"t-ns-deletion-{uuid.uuid4().hex[:6]}"
    kubectl(kubeconfig, "create", "namespace", name)
    wait_for(lambda: kubectl(kubeconfig, "get", "serviceaccount", "default", "-n", name),
             60, f"ServiceAccount default in {name}")
    apply(kubeconfig, name, deployment("doomed", replicas=2))
    wait_for(lambda: condition(get_json(kubeconfig, "deployment", "doomed", "-n", name),
                               "Available") == "True", 120, "Deployment doomed Available")

    kubectl(kubeconfig, "delete", "namespace", name, "--wait=false")

    def gone() -> bool:
        names = kubectl(kubeconfig, "get", "namespaces", "-o", "name").split()
        return f"namespace/{name}" not in names

    wait_for(gone, 120, f"namespace {name} deleted by the namespace controller")
