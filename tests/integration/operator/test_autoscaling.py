"""spec.serving.autoscaling on a real control plane: the operator (under its shipped RBAC)
owns the stable track's HorizontalPodAutoscaler, the kube-controller-manager's HPA
controller moves the stable Deployment's replicas and the operator keeps them; the CRD
refuses contradictions and `kubectl scale md` works through the scale subresource.

No resource metrics here (metrics-server runs in the e2e tier): the HPA controller still
enforces its bounds, so raising minReplicas is a real HPA-driven scale-up."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from vigia_testbed.kube import KubectlError, kubectl, wait_for
from vigia_testbed.operator import (
    OperatorProcess,
    grant_secrets,
    model_deployment,
    wait_ready,
    wait_stable,
)

pytestmark = pytest.mark.integration

OWNER = "vigia.dev/model-deployment"
HPA_MANAGER_SUBRESOURCE = "scale"
SCALING = {"minReplicas": 2, "maxReplicas": 4, "target": {"cpuUtilization": 50}}
STORE = {"storeSecretRef": {"name": "db", "key": "url"}}  # more than one pod needs it


def get(kubeconfig: Path, namespace: str, *args: str) -> Any:
    return json.loads(kubectl(kubeconfig, "get", *args, "-n", namespace, "-o", "json"))


def apply(kubeconfig: Path, namespace: str, obj: dict[str, Any]) -> None:
    kubectl(kubeconfig, "apply", "-n", namespace, "-f", "-", input=json.dumps(obj))


def reasons_of(kubeconfig: Path, namespace: str, name: str) -> list[tuple[str, str]]:
    items = get(kubeconfig, namespace, "events", "--field-selector",
                f"involvedObject.kind=ModelDeployment,involvedObject.name={name}")["items"]
    return [(e["reason"], e.get("message", "")) for e in items]


def shared_store(kubeconfig: Path, namespace: str) -> None:
    """The prediction log's Secret, granted and labelled as a namespace does."""
    kubectl(kubeconfig, "create", "secret", "generic", "db", "-n", namespace,
            "--from-literal=url=postgresql://u:p@db/predictions")
    kubectl(kubeconfig, "label", "secret", "db", "-n", namespace, "vigia.dev/model-access=true")
    grant_secrets(kubeconfig, namespace, ["db"])


def autoscaled(name: str, **scaling: Any) -> dict[str, Any]:
    return model_deployment(name, serving={"autoscaling": {**SCALING, **scaling},
                                           "predictionLog": STORE})


def _dry_run(kubeconfig: Path, namespace: str, obj: dict[str, Any]) -> str:
    return kubectl(kubeconfig, "create", "-n", namespace, "--dry-run=server", "-f", "-",
                   input=json.dumps(obj))


def _with_serving(obj: dict[str, Any], **serving: Any) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    out["spec"]["serving"].update(serving)
    return out


CONTRADICTIONS = {
    "replicas with autoscaling": (_with_serving(autoscaled("c"), replicas=2),
                                  "spec.serving.replicas"),
    "min above max": (autoscaled("c", minReplicas=5, maxReplicas=3),
                      "spec.serving.autoscaling.minReplicas"),
    "two targets": (autoscaled("c", target={"cpuUtilization": 50, "requestsPerSecond": 5}),
                    "spec.serving.autoscaling.target"),
    "no target": (autoscaled("c", target={}), "spec.serving.autoscaling.target"),
    "scaling out without a shared store": (
        model_deployment("c", serving={"autoscaling": SCALING}),
        "spec.serving.predictionLog.storeSecretRef"),
}


@pytest.mark.parametrize("case", sorted(CONTRADICTIONS))
def test_the_crd_refuses_contradictions_naming_the_field(installed: Path, namespace: str,
                                                         case: str) -> None:
    obj, field = CONTRADICTIONS[case]
    with pytest.raises(KubectlError) as refused:
        _dry_run(installed, namespace, obj)
    assert field in refused.value.stderr, refused.value.stderr


def test_a_valid_autoscaling_spec_is_accepted(installed: Path, namespace: str) -> None:
    assert "created" in _dry_run(installed, namespace, autoscaled("ok"))
    rps = autoscaled("ok", target={"requestsPerSecond": 2.5}, scaleDownStabilizationSeconds=30)
    assert "created" in _dry_run(installed, namespace, rps)


def _replicas(kubeconfig: Path, namespace: str, deployment: str) -> int:
    return int(get(kubeconfig, namespace, "deployment", deployment)["spec"]["replicas"])


def _scale_writers(deployment: dict[str, Any]) -> set[str]:
    """Field managers that own spec.replicas through the scale subresource."""
    return {entry["manager"] for entry in deployment["metadata"].get("managedFields") or []
            if entry.get("subresource") == HPA_MANAGER_SUBRESOURCE
            and "f:replicas" in (entry.get("fieldsV1") or {}).get("f:spec", {})}


def test_the_autoscaler_is_owned_and_the_count_it_sets_is_kept(
    installed: Path, namespace: str, operator: OperatorProcess
) -> None:
    shared_store(installed, namespace)
    apply(installed, namespace, autoscaled("scaled"))
    md = wait_ready(installed, namespace, "scaled")

    hpa = get(installed, namespace, "hpa", "scaled-stable")
    (owner,) = hpa["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["uid"], owner["controller"]) == (
        "ModelDeployment", md["metadata"]["uid"], True)
    assert hpa["metadata"]["labels"][OWNER] == "scaled"
    assert hpa["spec"]["scaleTargetRef"]["name"] == "scaled-stable"
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 4)
    assert _replicas(installed, namespace, "scaled-stable") == 2  # created at minReplicas

    # The HPA controller (kube-controller-manager) scales the Deployment up to a new
    # minimum through the scale subresource; the operator only changed the HPA.
    kubectl(installed, "patch", "md", "scaled", "-n", namespace, "--type=merge", "-p",
            json.dumps({"spec": {"serving": {"autoscaling": {"minReplicas": 3}}}}))
    deployment = wait_for(
        lambda: (d := get(installed, namespace, "deployment", "scaled-stable"))
        ["spec"]["replicas"] == 3 and d, 90, "the HPA scaling scaled-stable to 3")
    fields = get(installed, namespace, "deployment", "scaled-stable", "--show-managed-fields")
    assert _scale_writers(fields), fields["metadata"]["managedFields"]

    # Not restored, not reported as a hand edit; status says the autoscaler's numbers.
    def reported() -> dict[str, Any] | None:
        status = get(installed, namespace, "md", "scaled").get("status") or {}
        scaling = (status.get("serving") or {}).get("autoscaling") or {}
        return status if scaling.get("desiredReplicas") == 3 and (
            status["serving"]["replicas"] == 3) else None

    status = wait_for(reported, 60, "status.serving.autoscaling at 3 replicas")
    scaling = status["serving"]["autoscaling"]
    assert (scaling["minReplicas"], scaling["maxReplicas"]) == (3, 4)
    assert scaling["currentReplicas"] in (2, 3) and scaling["conditions"]
    assert "scale" in scaling["lastScaleReason"]
    assert status["serving"]["handEdits"] == []
    wait_for(lambda: any(r == "AutoscalerConditionChanged"
                         for r, _ in reasons_of(installed, namespace, "scaled")),
             30, "an AutoscalerConditionChanged Event")
    # A spec change that rolls the stable Deployment (new settings): its apply carries the
    # autoscaler's count, not minReplicas.
    hash_key = "vigia.dev/config-hash"
    old_hash = deployment["spec"]["template"]["metadata"]["annotations"][hash_key]
    kubectl(installed, "patch", "md", "scaled", "-n", namespace, "--type=merge", "-p",
            json.dumps({"spec": {"serving": {"maxRequestRows": 77}}}))
    wait_for(lambda: get(installed, namespace, "deployment", "scaled-stable")["spec"][
        "template"]["metadata"]["annotations"][hash_key] != old_hash, 60, "settings rolled")
    wait_ready(installed, namespace, "scaled")
    assert _replicas(installed, namespace, "scaled-stable") == 3
    restored = [m for r, m in reasons_of(installed, namespace, "scaled") if r == "Restored"]
    assert restored == []
    table = kubectl(installed, "get", "md", "scaled", "-n", namespace).splitlines()
    assert table[0].split()[1:3] == ["READY", "DESIRED"] and table[1].split()[2] == "3"

    # Autoscaling off: the HPA is deleted and the fixed count applied.
    kubectl(installed, "patch", "md", "scaled", "-n", namespace, "--type=json", "-p",
            json.dumps([{"op": "remove", "path": "/spec/serving/autoscaling"},
                        {"op": "add", "path": "/spec/serving/replicas", "value": 2}]))
    wait_for(lambda: not get(installed, namespace, "hpa", "-l", f"{OWNER}=scaled")["items"],
             60, "the HPA deleted")
    wait_for(lambda: _replicas(installed, namespace, "scaled-stable") == 2, 60,
             "the fixed count applied")
    wait_for(lambda: any(r == "Removed" and "HorizontalPodAutoscaler scaled-stable" in m
                         for r, m in reasons_of(installed, namespace, "scaled")),
             30, "a Removed Event")


def test_kubectl_scale_sets_the_fixed_count_and_is_refused_with_autoscaling(
    installed: Path, namespace: str, operator: OperatorProcess
) -> None:
    shared_store(installed, namespace)
    apply(installed, namespace, model_deployment("fixed", serving={"predictionLog": STORE}))
    wait_ready(installed, namespace, "fixed")
    kubectl(installed, "scale", "md", "fixed", "-n", namespace, "--replicas=3")
    assert get(installed, namespace, "md", "fixed")["spec"]["serving"]["replicas"] == 3
    wait_for(lambda: _replicas(installed, namespace, "fixed-stable") == 3, 60,
             "fixed-stable at 3 replicas")
    md = wait_ready(installed, namespace, "fixed")
    assert (md["status"]["serving"]["replicas"], md["status"]["serving"]["readyReplicas"]) == (
        3, 3)
    scale = json.loads(kubectl(installed, "get", "--raw",
                               f"/apis/vigia.dev/v1alpha1/namespaces/{namespace}/"
                               "modeldeployments/fixed/scale"))
    assert scale["spec"]["replicas"] == 3 and scale["status"]["replicas"] == 3
    assert "vigia.dev/track=stable" in scale["status"]["selector"]

    apply(installed, namespace, autoscaled("auto"))
    with pytest.raises(KubectlError) as refused:
        kubectl(installed, "scale", "md", "auto", "-n", namespace, "--replicas=3")
    assert "spec.serving.replicas" in refused.value.stderr, refused.value.stderr


def test_a_canary_follows_the_count_the_autoscaler_sets_and_promotion_keeps_it(
    installed: Path, namespace: str, operator: OperatorProcess
) -> None:
    """Router Replicas: at 50% the canary has as many pods as the stable, whatever the HPA
    made of it. No Prometheus here: the canary waits at its step until promoted by hand."""
    shared_store(installed, namespace)
    md = autoscaled("follow")
    md["spec"]["model"]["uri"] = "file:///models/follow/1"
    md["spec"]["rollout"] = {"steps": [{"weight": 50}]}
    apply(installed, namespace, md)
    wait_ready(installed, namespace, "follow")
    kubectl(installed, "patch", "md", "follow", "-n", namespace, "--type=merge", "-p",
            json.dumps({"spec": {"model": {"uri": "file:///models/follow/2"}}}))
    wait_for(lambda: _replicas(installed, namespace, "follow-canary") == 2, 60,
             "a canary of 2 pods beside 2 stable ones")

    # The HPA scales the stable 2 -> 3 (a new minimum): the canary follows to 3, 50% kept.
    kubectl(installed, "patch", "md", "follow", "-n", namespace, "--type=merge", "-p",
            json.dumps({"spec": {"serving": {"autoscaling": {"minReplicas": 3}}}}))
    wait_for(lambda: _replicas(installed, namespace, "follow-stable") == 3, 90,
             "the HPA scaling follow-stable to 3")
    wait_for(lambda: _replicas(installed, namespace, "follow-canary") == 3, 60,
             "the canary following to 3")

    def achieved() -> dict[str, Any] | None:
        canary = (get(installed, namespace, "md", "follow").get("status") or {}).get("canary")
        return canary if canary and canary.get("achievedWeight") == 50 else None

    canary = wait_for(achieved, 60, "50% achieved with 3 + 3 ready pods")
    assert canary["canaryReplicas"] == 3

    # Promotion rolls the stable in place: the HPA keeps scaling it, at its count.
    kubectl(installed, "annotate", "md", "follow", "-n", namespace, "vigia.dev/rollout=promote")
    wait_stable(installed, namespace, "follow", "2")
    assert _replicas(installed, namespace, "follow-stable") == 3
    hpa = get(installed, namespace, "hpa", "follow-stable")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "follow-stable"
    wait_for(lambda: _replicas(installed, namespace, "follow-canary") == 0, 60,
             "the canary back to zero")
    assert not [m for r, m in reasons_of(installed, namespace, "follow") if r == "Restored"]
