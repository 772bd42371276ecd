"""The API server serves CustomResourceDefinitions with validation and enforces RBAC."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from vigia_devcluster.binaries import kubectl_path
from vigia_testbed.kube import KubectlError, kubectl, wait_for

pytestmark = pytest.mark.integration


def crd(group: str) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [{
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "properties": {"spec": {
                        "type": "object",
                        "required": ["size"],
                        "properties": {
                            "size": {"type": "integer", "minimum": 1, "maximum": 10},
                            "colour": {"type": "string", "enum": ["red", "blue"]},
                        },
                    }},
                }},
            }],
        },
    }


@pytest.fixture
def widget_group(kubeconfig: Path, namespace: str) -> Iterator[str]:
    group = f"{namespace}.vigia.test"
    kubectl(kubeconfig, "apply", "-f", "-", input=json.dumps(crd(group)))
    kubectl(kubeconfig, "wait", "--for=condition=Established", "--timeout=60s",
            f"crd/widgets.{group}")
    try:
        yield group
    finally:
        kubectl(kubeconfig, "delete", "crd", f"widgets.{group}", "--wait=false")


def widget(group: str, name: str, spec: dict[str, Any]) -> str:
    return json.dumps({"apiVersion": f"{group}/v1", "kind": "Widget",
                       "metadata": {"name": name}, "spec": spec})


def test_custom_resource_is_served_and_schema_violations_are_refused(
    kubeconfig: Path, namespace: str, widget_group: str
) -> None:
    kubectl(kubeconfig, "create", "-n", namespace, "-f", "-",
            input=widget(widget_group, "good", {"size": 3, "colour": "red"}))
    served = json.loads(kubectl(kubeconfig, "get", f"widgets.{widget_group}", "good",
                                "-n", namespace, "-o", "json"))
    assert served["spec"] == {"size": 3, "colour": "red"}

    with pytest.raises(KubectlError) as too_big:
        kubectl(kubeconfig, "create", "-n", namespace, "-f", "-",
                input=widget(widget_group, "big", {"size": 11}))
    assert "spec.size" in too_big.value.stderr
    with pytest.raises(KubectlError) as bad_colour:
        kubectl(kubeconfig, "create", "-n", namespace, "-f", "-",
                input=widget(widget_group, "green", {"size": 2, "colour": "green"}))
    assert "spec.colour" in bad_colour.value.stderr
    with pytest.raises(KubectlError) as missing:
        kubectl(kubeconfig, "create", "-n", namespace, "-f", "-",
                input=widget(widget_group, "empty", {}))
    assert "spec.size" in missing.value.stderr
    listed = json.loads(kubectl(kubeconfig, "get", f"widgets.{widget_group}",
                                "-n", namespace, "-o", "json"))
    assert [item["metadata"]["name"] for item in listed["items"]] == ["good"]


def token_client(kubeconfig: Path, token: str) -> client.ApiClient:
    """An API client that authenticates with a bearer token only (no client certificate)."""
    admin = client.Configuration()
    config.load_kube_config(config_file=str(kubeconfig), client_configuration=admin)
    narrow = client.Configuration()
    narrow.host = admin.host
    narrow.ssl_ca_cert = admin.ssl_ca_cert
    narrow.verify_ssl = admin.verify_ssl
    narrow.api_key = {"authorization": f"Bearer {token}"}
    return client.ApiClient(narrow)


def refused(call: Any, *args: Any, **kwargs: Any) -> int:
    with pytest.raises(ApiException) as error:
        call(*args, **kwargs)
    return int(error.value.status)


def test_service_account_is_refused_what_its_role_does_not_grant(
    kubeconfig: Path, namespace: str
) -> None:
    kubectl(kubeconfig, "create", "serviceaccount", "narrow", "-n", namespace)
    kubectl(kubeconfig, "create", "role", "read-configmaps", "-n", namespace,
            "--verb=get,list", "--resource=configmaps")
    kubectl(kubeconfig, "create", "rolebinding", "narrow-reads", "-n", namespace,
            "--role=read-configmaps", f"--serviceaccount={namespace}:narrow")
    kubectl(kubeconfig, "create", "configmap", "visible", "-n", namespace)
    token = kubectl(kubeconfig, "create", "token", "narrow", "-n", namespace).strip()

    with token_client(kubeconfig, token) as api_client:
        core = client.CoreV1Api(api_client)
        # RBAC changes reach the authorizer's cache asynchronously.
        wait_for(lambda: core.list_namespaced_config_map(namespace).items, 60,
                 "Role grant visible to the service account")
        visible = core.read_namespaced_config_map("visible", namespace).metadata
        assert visible is not None
        assert visible.name == "visible"
        body = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="nope"))
        assert refused(core.create_namespaced_config_map, namespace, body) == 403
        assert refused(core.delete_namespaced_config_map, "visible", namespace) == 403
        assert refused(core.list_namespaced_secret, namespace) == 403
        assert refused(core.list_namespaced_config_map, "default") == 403
        assert refused(core.list_node) == 403

    bogus = token_client(kubeconfig, token[:-4] + "AAAA")
    with bogus as api_client:
        assert refused(client.CoreV1Api(api_client).list_namespaced_config_map, namespace) == 401


def can_i(kubeconfig: Path, node: str, *args: str) -> str:
    """`kubectl auth can-i` as the kubelet identity of `node` (an impersonated user)."""
    result = subprocess.run(
        [str(kubectl_path()), f"--kubeconfig={kubeconfig}", "auth", "can-i", *args,
         f"--as=system:node:{node}", "--as-group=system:nodes",
         "--as-group=system:authenticated"],
        capture_output=True, text=True, check=False, timeout=60,
    )
    return result.stdout.strip()  # "yes" (exit 0) or "no[ - reason]" (exit 1)


def test_node_authorizer_lets_a_node_read_only_the_secrets_of_its_own_pods(
    kubeconfig: Path, namespace: str
) -> None:
    nodes = json.loads(kubectl(kubeconfig, "get", "nodes", "-l", "type=kwok", "-o", "json"))
    node = nodes["items"][0]["metadata"]["name"]
    kubectl(kubeconfig, "create", "secret", "generic", "mounted", "-n", namespace,
            "--from-literal=k=v")
    kubectl(kubeconfig, "create", "secret", "generic", "unrelated", "-n", namespace,
            "--from-literal=k=v")
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "uses-secret"},
        "spec": {
            "nodeName": node,
            "containers": [{"name": "app", "image": "vigia.invalid/app:1",
                            "volumeMounts": [{"name": "s", "mountPath": "/s"}]}],
            "volumes": [{"name": "s", "secret": {"secretName": "mounted"}}],
        },
    }
    kubectl(kubeconfig, "apply", "-n", namespace, "-f", "-", input=json.dumps(pod))

    # The authorizer learns pod-to-secret edges from a watch, so the grant appears shortly.
    wait_for(lambda: can_i(kubeconfig, node, "get", "secret/mounted", "-n", namespace) == "yes",
             30, f"{node} allowed to read the secret of its pod")
    unrelated = can_i(kubeconfig, node, "get", "secret/unrelated", "-n", namespace)
    assert unrelated == f"no - no relationship found between node '{node}' and this object"
    assert can_i(kubeconfig, node, "list", "secrets", "-n", namespace).startswith("no")
