"""The shipped manifests: least-privilege RBAC, a restricted operator pod, kustomizations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from vigia_operator.core import resources as r

from tests.unit.operator.schema import ROOT

MANIFESTS = ROOT / "manifests"


def _load(path: Path) -> dict[str, Any]:
    return dict(yaml.safe_load(path.read_text()))


def test_rbac_lists_every_resource_and_verb_without_wildcards() -> None:
    role = _load(MANIFESTS / "rbac" / "cluster_role.yaml")
    granted: dict[tuple[str, str], set[str]] = {}
    for rule in role["rules"]:
        for field in ("apiGroups", "resources", "verbs"):
            assert "*" not in rule[field], rule
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                granted.setdefault((group, resource), set()).update(rule["verbs"])
    for kind in r.CHILD_KINDS:
        # get: is a missing child's name free, or someone else's object?
        assert granted[(kind.group, kind.plural)] == set(kind.verbs)
    # Pods: only a finished retraining Job's, found by label, for its termination message.
    assert granted[("", "pods")] == {"list"}
    assert granted[("vigia.dev", "modeldeployments/status")] == {"get", "patch"}
    assert granted[("", "events")] == {"create"}
    # Secrets: none (a get would read their data); each namespace grants its own by name.
    assert ("", "secrets") not in granted
    assert not any(resource in ("customresourcedefinitions", "namespaces", "leases")
                   for _group, resource in granted)


def test_the_lease_is_a_role_on_one_object() -> None:
    role = _load(MANIFESTS / "rbac" / "leader_election_role.yaml")
    assert role["kind"] == "Role" and role["metadata"]["namespace"] == "vigia-system"
    named, create = role["rules"]
    assert named["resources"] == create["resources"] == ["leases"]
    assert named["resourceNames"] == ["vigia-operator"] and set(named["verbs"]) == {"get", "update"}
    # RBAC cannot name an object not yet created: create alone is unnamed.
    assert create["verbs"] == ["create"] and "resourceNames" not in create


def test_binding_names_the_operator_account() -> None:
    binding = _load(MANIFESTS / "rbac" / "cluster_role_binding.yaml")
    account = _load(MANIFESTS / "rbac" / "service_account.yaml")
    (subject,) = binding["subjects"]
    assert (subject["name"], subject["namespace"]) == (
        account["metadata"]["name"], account["metadata"]["namespace"])
    assert binding["roleRef"]["name"] == "vigia-operator"


def test_operator_pod_is_restricted_and_probed() -> None:
    deployment = _load(MANIFESTS / "manager" / "deployment.yaml")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"]["type"] == "Recreate"  # standalone: never two
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    context = container["securityContext"]
    assert context["readOnlyRootFilesystem"] and not context["allowPrivilegeEscalation"]
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert pod["securityContext"]["runAsNonRoot"]
    assert "--liveness=http://0.0.0.0:8080/healthz" in container["command"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"


def test_kustomizations_list_their_files() -> None:
    for kustomization in MANIFESTS.rglob("kustomization.yaml"):
        for resource in _load(kustomization)["resources"]:
            assert (kustomization.parent / resource).exists(), (kustomization, resource)
    top = _load(MANIFESTS / "kustomization.yaml")["resources"]
    assert top == ["crd", "rbac", "manager"]


def test_the_secret_grant_names_each_secret_and_the_operator() -> None:
    role, binding = yaml.safe_load_all((MANIFESTS / "samples" / "secret-grant.yaml").read_text())
    account = _load(MANIFESTS / "rbac" / "service_account.yaml")
    (rule,) = role["rules"]
    assert (rule["resources"], rule["verbs"]) == (["secrets"], ["get"])
    assert rule["resourceNames"]  # never every Secret of the namespace
    assert "namespace" not in role["metadata"]  # applied in the models' namespace
    (subject,) = binding["subjects"]
    assert (subject["name"], subject["namespace"]) == (
        account["metadata"]["name"], account["metadata"]["namespace"])
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
