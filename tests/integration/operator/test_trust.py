"""Trust boundaries, tried as a careless or hostile user would, on the real control plane
with the operator under its own RBAC (conftest.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from vigia_operator.core.resources import JOB_CONTAINER
from vigia_operator.decide.retraining.result import job_finished, owned_pods, read_result
from vigia_operator.engine.reconcile import JOB_NAME_LABEL
from vigia_testbed.kube import KubectlError, kubectl, wait_for
from vigia_testbed.operator import (
    OperatorProcess,
    model_deployment,
    wait_ready,
    wait_stable,
)

from tests.integration.operator.test_operator import apply, env_of, get, has_event
from vigia.retraining import RESULT_SCHEMA

pytestmark = pytest.mark.integration

DIGEST = "sha256:" + "a" * 64


def condition(md: dict[str, Any], type_: str) -> dict[str, Any]:
    return next((c for c in (md.get("status") or {}).get("conditions") or []
                 if c["type"] == type_), {})


def wait_refused(kubeconfig: Path, namespace: str, name: str, reason: str) -> dict[str, Any]:
    def refused() -> dict[str, Any] | None:
        md = get(kubeconfig, namespace, "md", name)
        ready = condition(md, "Ready")
        return md if ready.get("reason") == reason and ready["status"] == "False" else None

    md = wait_for(refused, 60, f"{name} refused with {reason}")
    assert md["status"]["phase"] == "Failed"
    assert condition(md, "Degraded")["status"] == "True"
    wait_for(lambda: has_event(kubeconfig, namespace, name, reason), 30, f"{reason} Event")
    return md


def absent(kubeconfig: Path, namespace: str, kind: str, name: str) -> bool:
    try:
        get(kubeconfig, namespace, kind, name)
    except KubectlError as error:
        return "NotFound" in error.stderr
    return False


def test_no_takeover_of_a_users_objects(
    installed: Path, namespace: str, operator: OperatorProcess
) -> None:
    """A ModelDeployment named like the user's Service: the Service is never modified,
    the conflict is reported, and deleting the ModelDeployment leaves the Service."""
    apply(installed, namespace, {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "shop", "labels": {
            "team": "web"}},
        "spec": {"selector": {"app": "shop"}, "ports": [{"port": 8080}]}})
    before = get(installed, namespace, "service", "shop")
    apply(installed, namespace, model_deployment("shop"))

    md = wait_refused(installed, namespace, "shop", "ObjectConflict")
    message = condition(md, "Ready")["message"]
    assert "Service shop already exists and has no controller" in message
    assert has_event(installed, namespace, "shop", "ObjectConflict", "Service shop")
    after = get(installed, namespace, "service", "shop")
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert not after["metadata"].get("ownerReferences")
    assert absent(installed, namespace, "deployment", "shop-stable")  # nothing half-built

    kubectl(installed, "delete", "md", "shop", "-n", namespace, "--wait=true")
    wait_for(lambda: absent(installed, namespace, "configmap", "shop-server"), 60,
             "its own children collected")
    survivor = get(installed, namespace, "service", "shop")
    assert survivor["metadata"]["uid"] == before["metadata"]["uid"]
    assert survivor["spec"]["ports"][0]["port"] == 8080


def test_another_model_deployments_child_is_not_taken(
    installed: Path, namespace: str, operator: OperatorProcess
) -> None:
    """An object carrying the operator's labels but not controlled by this ModelDeployment
    (hand-made, or another's) is reported, never applied to."""
    apply(installed, namespace, {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "twin-server", "labels": {
            "app.kubernetes.io/managed-by": "vigia-operator",
            "vigia.dev/model-deployment": "twin"}},
        "data": {"mine": "yes"}})
    apply(installed, namespace, model_deployment("twin"))
    wait_refused(installed, namespace, "twin", "ObjectConflict")
    assert get(installed, namespace, "configmap", "twin-server")["data"] == {"mine": "yes"}


def test_only_allowed_schemes_reach_the_cluster(installed: Path, namespace: str) -> None:
    for uri in ("http://127.0.0.1:9/m.bentomodel", "pvc://models/../etc/passwd"):
        with pytest.raises(KubectlError) as refused:
            apply(installed, namespace, model_deployment("scheme", uri))
        assert "spec.model.uri" in refused.value.stderr


def test_a_remote_bundle_needs_the_digest_in_the_resource(
    installed: Path, namespace: str, operator: OperatorProcess
) -> None:
    obj = model_deployment("anchor", "s3://models/anchor/v1")
    del obj["spec"]["model"]["digest"]
    apply(installed, namespace, obj)
    md = wait_refused(installed, namespace, "anchor", "DigestRequired")
    assert "spec.model.digest is required" in condition(md, "Ready")["message"]
    assert absent(installed, namespace, "deployment", "anchor-stable")

    kubectl(installed, "patch", "md", "anchor", "-n", namespace, "--type=merge",
            "-p", json.dumps({"spec": {"model": {"digest": DIGEST}}}))
    wait_ready(installed, namespace, "anchor")
    env = env_of(get(installed, namespace, "deployment", "anchor-stable"))
    assert env["VIGIA_MODEL_DIGEST"] == DIGEST
    assert "VIGIA_ALLOW_SIDECAR_DIGEST" not in env


def test_only_allowed_images_run(
    installed: Path, namespace: str, operator: OperatorProcess
) -> None:
    apply(installed, namespace, model_deployment("img", serving={"image": "evil/miner:1"}))
    md = wait_refused(installed, namespace, "img", "ImageNotAllowed")
    assert "'evil/miner:1'" in condition(md, "Ready")["message"]
    assert absent(installed, namespace, "deployment", "img-stable")

    kubectl(installed, "patch", "md", "img", "-n", namespace, "--type=merge",
            "-p", json.dumps({"spec": {"serving": {"image": "docker.io/vigia/vigia:0.1.0"}}}))
    wait_ready(installed, namespace, "img")


def test_only_labelled_secrets_are_referenced(
    installed: Path, namespace: str, operator: OperatorProcess
) -> None:
    kubectl(installed, "create", "secret", "generic", "db", "-n", namespace,
            "--from-literal=url=postgresql://u:p@db/predictions")
    store = {"predictionLog": {"storeSecretRef": {"name": "db", "key": "url"}}}
    apply(installed, namespace, model_deployment("secret", serving=store))
    md = wait_refused(installed, namespace, "secret", "SecretNotAllowed")
    message = condition(md, "Ready")["message"]
    assert "Secret 'db' does not carry the label vigia.dev/model-access=true" in message
    assert "postgresql" not in message
    assert absent(installed, namespace, "deployment", "secret-stable")

    kubectl(installed, "label", "secret", "db", "-n", namespace, "vigia.dev/model-access=true")
    wait_ready(installed, namespace, "secret")  # Secrets are not watched: a tick


def test_hand_edits_are_restored_or_reported_and_never_block_a_new_model(
    installed: Path, namespace: str, operator: OperatorProcess
) -> None:
    apply(installed, namespace, model_deployment("edit"))
    wait_ready(installed, namespace, "edit")
    kubectl(installed, "rollout", "pause", "deployment/edit-stable", "-n", namespace)
    wait_for(lambda: not get(installed, namespace, "deployment", "edit-stable")["spec"]
             .get("paused"), 60, "paused rollout resumed")
    wait_for(lambda: has_event(installed, namespace, "edit", "Restored", "spec.paused"), 30,
             "Restored event naming spec.paused")

    # A nodeSelector the (fake) nodes satisfy: the pods still run, the edit stays.
    patch = {"spec": {"template": {"spec": {
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "initContainers": [{"name": "fetch", "image": "vigia/vigia:0.1.0",
                            "command": ["true"]}]}}}}
    kubectl(installed, "patch", "deployment", "edit-stable", "-n", namespace,
            "--type=strategic", "-p", json.dumps(patch))

    def reported() -> list[str] | None:
        edits = get(installed, namespace, "md", "edit")["status"]["serving"].get("handEdits")
        return edits if edits and len(edits) >= 2 else None

    edits = wait_for(reported, 90, "hand edits in status.serving.handEdits")
    assert "Deployment edit-stable: spec.template.spec.nodeSelector" in edits
    assert "Deployment edit-stable: spec.template.spec.initContainers[fetch]" in edits
    assert has_event(installed, namespace, "edit", "HandEdited", "nodeSelector")

    # Paused by hand again, then a new model, promoted by hand (no Prometheus here): it
    # rolls out all the same.
    kubectl(installed, "rollout", "pause", "deployment/edit-stable", "-n", namespace)
    kubectl(installed, "patch", "md", "edit", "-n", namespace, "--type=merge",
            "-p", json.dumps({"spec": {"model": {"uri": "file:///models/edit/2"}}}))
    wait_for(lambda: (get(installed, namespace, "md", "edit")["status"].get("canary") or {})
             .get("stepStartedAt"), 60, "the canary's first step")
    kubectl(installed, "annotate", "md", "edit", "-n", namespace, "vigia.dev/rollout=promote")
    wait_stable(installed, namespace, "edit", "2")
    deployment = get(installed, namespace, "deployment", "edit-stable")
    assert not deployment["spec"].get("paused")
    assert env_of(deployment)["VIGIA_MODEL_URI"] == "file:///models/edit/2"
    # Reported, not removed: the user's additions are still there.
    pod = deployment["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert [c["name"] for c in pod["initContainers"]] == ["fetch"]


def _routed(parent_refs: list[dict[str, str]], hostnames: list[str]) -> dict[str, Any]:
    route = {"name": "published", "parentRefs": parent_refs, "hostnames": hostnames}
    return {"rollout": {"traffic": {"router": "GatewayAPI", "httpRoute": route}}}


def test_a_route_attaches_only_where_the_configuration_allows(
    installed: Path, namespace: str, operator: OperatorProcess
) -> None:
    # The platform's shared Gateway, in another namespace: not this tenant's to publish on.
    shared = _routed([{"name": "public", "namespace": "infra"}], [])
    apply(installed, namespace, model_deployment("gw", **shared))
    md = wait_refused(installed, namespace, "gw", "GatewayNotAllowed")
    message = condition(md, "Ready")["message"]
    assert "spec.rollout.traffic.httpRoute.parentRefs[0]: Gateway infra/public" in message
    assert absent(installed, namespace, "deployment", "gw-stable")

    # Its own namespace's Gateway, under a host name nobody granted: refused too.
    own = _routed([{"name": "mine"}], ["payroll.example.com"])
    apply(installed, namespace, model_deployment("host", **own))
    md = wait_refused(installed, namespace, "host", "HostnameNotAllowed")
    assert "hostnames[0]: 'payroll.example.com'" in condition(md, "Ready")["message"]
    assert absent(installed, namespace, "deployment", "host-stable")


def test_a_pod_with_the_job_s_label_but_not_its_owner_names_no_candidate(
    installed: Path, namespace: str
) -> None:
    """Anyone who may create a pod can put a Job's name label on it; the result is read
    only from pods whose ownerReferences carry the Job's uid (the real Job controller's)."""
    name = "retrain-once"
    apply(installed, namespace, {
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
        "spec": {"backoffLimit": 0, "template": {"spec": {
            "restartPolicy": "Never",
            "containers": [{"name": JOB_CONTAINER, "image": "vigia.invalid/job:1"}]}}}})
    job = wait_for(lambda: (lambda j: j if job_finished(j) else None)(
        get(installed, namespace, "job", name)), 120, f"Job {name} finished")

    forged = {"schema": RESULT_SCHEMA, "verdict": "Accepted", "reasons": [],
              "metrics": {"accuracy": 0.99},
              "candidate": {"version": "evil", "uri": "file:///evil/x.bentomodel",
                            "digest": "sha256:" + "e" * 64, "reportUri": "file:///evil/x.json"}}
    impostor = f"{name}-impostor"
    apply(installed, namespace, {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": impostor, "labels": {JOB_NAME_LABEL: name, "job-name": name}},
        # On no node: no kubelet (nor kwok) rewrites the status written below.
        "spec": {"nodeName": "nowhere", "restartPolicy": "Never",
                 "containers": [{"name": JOB_CONTAINER, "image": "vigia.invalid/job:1"}]}})
    terminated = {"exitCode": 0, "reason": "Completed", "message": json.dumps(forged),
                  "startedAt": "2026-12-07T12:00:00Z", "finishedAt": "2026-12-07T12:00:01Z"}
    status = {"status": {"phase": "Succeeded", "containerStatuses": [{
        "name": JOB_CONTAINER, "image": "vigia.invalid/job:1", "imageID": "", "ready": False,
        "restartCount": 0, "state": {"terminated": terminated}}]}}
    kubectl(installed, "patch", "pod", impostor, "-n", namespace, "--subresource=status",
            "--type=merge", "-p", json.dumps(status))

    # What the engine lists (reconcile.py: the Job's name label) holds both pods...
    pods = get(installed, namespace, "pods", "-l", f"{JOB_NAME_LABEL}={name}")["items"]
    assert impostor in [p["metadata"]["name"] for p in pods] and len(pods) == 2
    # ...and only the Job controller's own counts: the forged candidate is never read.
    owned = owned_pods(job, pods)
    assert [p["metadata"]["name"] for p in owned] != [impostor] and len(owned) == 1
    result = read_result(job, pods)
    assert result.candidate is None and "evil" not in result.message
