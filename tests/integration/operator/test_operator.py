"""The operator on a real control plane, running as its own ServiceAccount under the
shipped RBAC (see conftest.py). kwok nodes make the model server pods Ready."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from vigia_testbed.kube import kubectl, wait_for
from vigia_testbed.operator import (
    MANIFESTS,
    OperatorProcess,
    model_deployment,
    wait_ready,
    wait_stable,
)

pytestmark = pytest.mark.integration

CHILD_KINDS = ("deployments", "services", "configmaps", "serviceaccounts")
OWNER = "vigia.dev/model-deployment"


def get(kubeconfig: Path, namespace: str, *args: str) -> Any:
    return json.loads(kubectl(kubeconfig, "get", *args, "-n", namespace, "-o", "json"))


def apply(kubeconfig: Path, namespace: str, obj: dict[str, Any]) -> None:
    kubectl(kubeconfig, "apply", "-n", namespace, "-f", "-", input=json.dumps(obj))


def restricted(kubeconfig: Path, namespace: str) -> None:
    """Pod Security admission refuses pods of this namespace unless they are restricted."""
    kubectl(kubeconfig, "label", "namespace", namespace, "--overwrite",
            "pod-security.kubernetes.io/enforce=restricted")


def events(kubeconfig: Path, namespace: str, name: str) -> list[dict[str, Any]]:
    items = get(kubeconfig, namespace, "events", "--field-selector",
                f"involvedObject.kind=ModelDeployment,involvedObject.name={name}")["items"]
    return list(items)


def has_event(kubeconfig: Path, namespace: str, name: str, reason: str,
              text: str = "") -> bool:
    return any(e["reason"] == reason and text in e.get("message", "")
               for e in events(kubeconfig, namespace, name))


def children(kubeconfig: Path, namespace: str, md: str) -> dict[str, list[dict[str, Any]]]:
    return {kind: get(kubeconfig, namespace, kind, "-l", f"{OWNER}={md}")["items"]
            for kind in CHILD_KINDS}


def env_of(deployment: dict[str, Any]) -> dict[str, str]:
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value", "") for e in container["env"]}


def test_apply_creates_children_and_reports_ready(
    installed: Path, namespace: str, operator: OperatorProcess
) -> None:
    restricted(installed, namespace)
    kubectl(installed, "apply", "-n", namespace, "-k", str(MANIFESTS / "samples"))

    md = wait_ready(installed, namespace, "sobaos")
    uid = md["metadata"]["uid"]
    found = children(installed, namespace, "sobaos")
    assert {kind: len(items) for kind, items in found.items()} == dict.fromkeys(CHILD_KINDS, 1)
    for items in found.values():
        (owner,) = items[0]["metadata"]["ownerReferences"]
        assert (owner["kind"], owner["uid"], owner["controller"]) == ("ModelDeployment", uid, True)
    deployment = found["deployments"][0]
    assert deployment["status"]["availableReplicas"] == 1
    assert env_of(deployment)["VIGIA_MODEL_URI"] == "file:///models/sobaos/1"

    status = md["status"]
    assert status["phase"] == "Ready"
    assert status["stable"]["version"] == "1"
    assert status["serving"]["url"] == f"http://sobaos.{namespace}.svc:80"
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["Progressing"]["status"] == "False"
    assert conditions["Degraded"]["status"] == "False"
    assert all(c["observedGeneration"] == md["metadata"]["generation"]
               for c in conditions.values())
    wait_for(lambda: has_event(installed, namespace, "sobaos", "Created", "Deployment"),
             30, "Created event")
    wait_for(lambda: has_event(installed, namespace, "sobaos", "Ready"), 30, "Ready event")
    # The printer columns read the status.
    table = kubectl(installed, "get", "md", "sobaos", "-n", namespace)
    assert "Ready" in table.splitlines()[1] and "STABLE" in table.splitlines()[0]


def test_model_change_rolls_out_and_is_reported(
    installed: Path, namespace: str, operator: OperatorProcess
) -> None:
    """A new version starts as a canary beside the stable one. Without Prometheus no
    analysis is taken: it waits at its first step until promoted by hand."""
    apply(installed, namespace, model_deployment("iris", "s3://models/iris/v1"))
    wait_ready(installed, namespace, "iris")

    kubectl(installed, "patch", "md", "iris", "-n", namespace, "--type=merge",
            "-p", json.dumps({"spec": {"model": {"uri": "s3://models/iris/v2"}}}))

    wait_for(lambda: env_of(get(installed, namespace, "deployment", "iris-canary"))
             ["VIGIA_MODEL_URI"] == "s3://models/iris/v2", 60, "a canary serving v2")
    canary = wait_for(lambda: (get(installed, namespace, "md", "iris")["status"].get("canary")
                               or {}).get("stepStartedAt") and
                      get(installed, namespace, "md", "iris")["status"]["canary"], 60,
                      "the canary's first step")
    assert canary["version"] == "v2" and canary["phase"] == "Progressing"
    assert "no analysis yet" in canary["message"]
    stable = get(installed, namespace, "deployment", "iris-stable")
    assert env_of(stable)["VIGIA_MODEL_URI"] == "s3://models/iris/v1"  # untouched

    kubectl(installed, "annotate", "md", "iris", "-n", namespace, "vigia.dev/rollout=promote")
    wait_for(lambda: env_of(get(installed, namespace, "deployment", "iris-stable"))
             ["VIGIA_MODEL_URI"] == "s3://models/iris/v2", 60, "stable serving v2")
    wait_stable(installed, namespace, "iris", "v2")
    md = wait_ready(installed, namespace, "iris")
    assert md["status"]["stable"]["uri"] == "s3://models/iris/v2"
    assert md["status"]["observedGeneration"] == 2
    assert md["status"]["history"][0]["outcome"] == "Promoted"
    assert "vigia.dev/rollout" not in (md["metadata"].get("annotations") or {})  # one-shot
    template = get(installed, namespace, "deployment", "iris-stable")["spec"]["template"]
    assert template["metadata"]["labels"]["vigia.dev/version"] == "v2"
    wait_for(lambda: has_event(installed, namespace, "iris", "Promoted"), 30, "Promoted event")
    wait_for(lambda: has_event(installed, namespace, "iris", "ModelChanged",
                               "s3://models/iris/v1 to s3://models/iris/v2"),
             30, "ModelChanged event")


def test_children_edited_or_deleted_by_hand_are_restored(
    installed: Path, namespace: str, operator: OperatorProcess
) -> None:
    apply(installed, namespace, model_deployment("fixme"))
    wait_ready(installed, namespace, "fixme")
    service_uid = get(installed, namespace, "service", "fixme")["metadata"]["uid"]

    kubectl(installed, "delete", "service", "fixme", "-n", namespace)
    kubectl(installed, "delete", "configmap", "fixme-server", "-n", namespace)
    kubectl(installed, "scale", "deployment", "fixme-stable", "-n", namespace, "--replicas=3")
    kubectl(installed, "set", "image", "deployment/fixme-stable", "-n", namespace,
            "server=evil/image:1")
    kubectl(installed, "label", "serviceaccount", "fixme-server", "-n", namespace,
            "app.kubernetes.io/managed-by-")

    def restored() -> bool:
        service = get(installed, namespace, "service", "fixme")
        deployment = get(installed, namespace, "deployment", "fixme-stable")
        account = get(installed, namespace, "serviceaccount", "fixme-server")
        get(installed, namespace, "configmap", "fixme-server")
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        return bool(
            service["metadata"]["uid"] != service_uid
            and deployment["spec"]["replicas"] == 1
            and container["image"] == "vigia/vigia:0.1.0"
            and account["metadata"]["labels"].get("app.kubernetes.io/managed-by")
            == "vigia-operator"
        )

    wait_for(restored, 60, "children restored")
    assert {k: len(v) for k, v in children(installed, namespace, "fixme").items()} == (
        dict.fromkeys(CHILD_KINDS, 1))
    wait_for(lambda: has_event(installed, namespace, "fixme", "Restored", "spec.replicas"),
             30, "Restored event naming spec.replicas")
    assert has_event(installed, namespace, "fixme", "Restored", "Service fixme was deleted")
    wait_ready(installed, namespace, "fixme")


def test_deleting_the_model_deployment_removes_its_children(
    installed: Path, namespace: str, operator: OperatorProcess
) -> None:
    apply(installed, namespace, model_deployment("bye"))
    md = wait_ready(installed, namespace, "bye")
    # No finalizer: deleting never waits for the operator, which is even stopped here.
    assert not md["metadata"].get("finalizers")
    operator.stop()

    kubectl(installed, "delete", "md", "bye", "-n", namespace, "--wait=true", "--timeout=60s")

    wait_for(lambda: not any(children(installed, namespace, "bye").values()), 90,
             "children garbage-collected")
    pods = get(installed, namespace, "pods", "-l", "app.kubernetes.io/instance=bye")["items"]
    wait_for(lambda: not get(installed, namespace, "pods", "-l",
                             "app.kubernetes.io/instance=bye")["items"], 90, "pods gone")
    assert isinstance(pods, list)


def test_killed_operator_converges_after_restart_without_duplicates(
    installed: Path, namespace: str, operator: OperatorProcess
) -> None:
    names = [f"m{i}" for i in range(12)]
    items = [model_deployment(name, f"s3://models/{name}/v1") for name in names]
    apply(installed, namespace, {"apiVersion": "v1", "kind": "List", "items": items})
    # Kill it as soon as it has finished one, in the middle of the batch.
    wait_for(lambda: "): applied 4" in operator.log(), 60,
             "a first reconcile", interval=0.02)
    operator.kill()
    kubectl(installed, "patch", "md", "m0", "-n", namespace, "--type=merge",
            "-p", json.dumps({"spec": {"serving": {"maxRequestRows": 10}}}))

    operator.start()
    for name in names:
        wait_ready(installed, namespace, name)
    for name in names:
        counts = {k: len(v) for k, v in children(installed, namespace, name).items()}
        assert counts == dict.fromkeys(CHILD_KINDS, 1), (name, counts)
    config = get(installed, namespace, "configmap", "m0-server")["data"]
    assert config["VIGIA_MAX_REQUEST_ROWS"] == "10"
    assert len(get(installed, namespace, "deployments")["items"]) == len(names)


def test_refused_pods_make_it_degraded_until_fixed(
    installed: Path, namespace: str, operator: OperatorProcess
) -> None:
    apply(installed, namespace, {"apiVersion": "v1", "kind": "ResourceQuota",
                                 "metadata": {"name": "no-pods"}, "spec": {"hard": {"pods": "0"}}})
    apply(installed, namespace, model_deployment("starved"))

    def degraded() -> dict[str, Any] | None:
        md = get(installed, namespace, "md", "starved")
        conds = {c["type"]: c for c in md.get("status", {}).get("conditions", [])}
        return md if conds.get("Degraded", {}).get("status") == "True" else None

    md = wait_for(degraded, 120, "ModelDeployment Degraded")
    assert md["status"]["phase"] == "Degraded"
    cond = next(c for c in md["status"]["conditions"] if c["type"] == "Degraded")
    assert cond["reason"] == "ReplicaFailure" and "quota" in cond["message"]
    wait_for(lambda: has_event(installed, namespace, "starved", "ReplicaFailure"), 30,
             "ReplicaFailure Warning")

    kubectl(installed, "delete", "resourcequota", "no-pods", "-n", namespace)
    md = wait_ready(installed, namespace, "starved", timeout=240)
    assert md["status"]["phase"] == "Ready"


def test_kustomization_applies(installed: Path) -> None:
    kubectl(installed, "apply", "-k", str(MANIFESTS), "--dry-run=server")
    kubectl(installed, "apply", "-k", str(MANIFESTS))
    try:
        # vigia-system enforces the restricted Pod Security profile: the operator's own
        # pod is admitted only if its manifest is restricted.
        wait_for(lambda: get(installed, "vigia-system", "deployment", "vigia-operator")
                 ["status"].get("availableReplicas") == 1, 120, "operator Deployment available")
    finally:
        kubectl(installed, "delete", "-k", str(MANIFESTS / "manager"), "--ignore-not-found")
