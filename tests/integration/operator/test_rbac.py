"""What the operator's identity may do, asked of the real API server: the shipped RBAC
(manifests/rbac) as the vigia-operator ServiceAccount, impersonated (`kubectl auth can-i
--as`) and with the operator's own token (a real request). docs/security.md's table of the
operator's permissions cites these tests."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from vigia_devcluster.binaries import kubectl_path
from vigia_testbed.kube import KubectlError, kubectl, wait_for
from vigia_testbed.operator import OPERATOR_ACCOUNT, OPERATOR_NAMESPACE, grant_secrets

pytestmark = pytest.mark.integration

OPERATOR_USER = f"system:serviceaccount:{OPERATOR_NAMESPACE}:{OPERATOR_ACCOUNT}"


def can_i(kubeconfig: Path, *args: str) -> bool:
    """`kubectl auth can-i` as the operator's ServiceAccount (exit 0: yes, 1: no)."""
    result = subprocess.run(
        [str(kubectl_path()), f"--kubeconfig={kubeconfig}", "auth", "can-i", *args,
         f"--as={OPERATOR_USER}"],
        capture_output=True, text=True, check=False, timeout=60)
    assert result.returncode in (0, 1), result.stderr
    return result.returncode == 0


def test_no_secret_is_readable_unless_its_namespace_grants_it(
    installed: Path, operator_config: Path, namespace: str
) -> None:
    for name in ("store", "unrelated"):
        kubectl(installed, "create", "secret", "generic", name, "-n", namespace,
                "--from-literal=token=hunter2")
    assert not can_i(installed, "get", "secrets", "-n", namespace)
    assert not can_i(installed, "list", "secrets", "--all-namespaces")
    assert not can_i(installed, "watch", "secrets", "--all-namespaces")
    # A real request with the operator's token: the data stays unread.
    with pytest.raises(KubectlError, match=r"(?i)forbidden"):
        kubectl(operator_config, "get", "secret", "unrelated", "-n", namespace, "-o", "json")

    grant_secrets(installed, namespace, ["store"])
    # RBAC changes reach the authorizer's cache asynchronously.
    wait_for(lambda: can_i(installed, "get", "secret/store", "-n", namespace), 30,
             "the grant in force")
    assert kubectl(operator_config, "get", "secret", "store", "-n", namespace,
                   "-o", "jsonpath={.metadata.name}") == "store"
    # The grant names one Secret: its neighbour, and listing, stay refused.
    assert not can_i(installed, "get", "secret/unrelated", "-n", namespace)
    assert not can_i(installed, "list", "secrets", "-n", namespace)
    with pytest.raises(KubectlError, match=r"(?i)forbidden"):
        kubectl(operator_config, "get", "secret", "unrelated", "-n", namespace, "-o", "json")


def test_pods_are_listed_never_read_by_name_or_changed(installed: Path, namespace: str) -> None:
    # Listing pods finds a finished retraining Job's by label (RBAC cannot narrow a list by
    # label; operator.watchNamespaces confines it to the watched namespaces).
    assert can_i(installed, "list", "pods", "-n", namespace)
    for verb in ("get", "watch", "create", "update", "patch", "delete"):
        assert not can_i(installed, verb, "pods", "-n", namespace), verb
    for verb, sub in (("create", "exec"), ("get", "log"), ("create", "portforward")):
        assert not can_i(installed, verb, "pods", f"--subresource={sub}", "-n", namespace), sub


def test_nothing_beyond_its_own_objects(installed: Path, namespace: str) -> None:
    # What would make a leaked token worth more than the operator's job.
    refused = [
        ("delete", "deployments"), ("delete", "services"), ("delete", "modeldeployments"),
        ("create", "roles"), ("create", "rolebindings"), ("create", "clusterrolebindings"),
        ("escalate", "clusterroles"), ("bind", "clusterroles"), ("impersonate", "users"),
        ("create", "pods"), ("patch", "nodes"), ("list", "namespaces"),
        ("update", "jobs"), ("create", "daemonsets"), ("create", "statefulsets"),
    ]
    allowed = [(verb, what) for verb, what in refused
               if can_i(installed, verb, what, "-n", namespace)]
    assert allowed == []
    assert not can_i(installed, "create", "serviceaccounts", "--subresource=token",
                     "-n", namespace)
    assert can_i(installed, "patch", "modeldeployments.vigia.dev/status", "-n", namespace)
    assert can_i(installed, "create", "jobs.batch", "-n", namespace)
    # The one delete: spec.serving.autoscaling's HPA, once autoscaling is turned off.
    assert can_i(installed, "delete", "horizontalpodautoscalers.autoscaling", "-n", namespace)
