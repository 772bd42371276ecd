"""The metrics-server install of the e2e tier (vigia_testbed.metrics_server): the API server
can verify what it serves, its kubelet TLS choice, its flags within metrics-server's own
limits, least-privilege RBAC and a pod that Pod Security "restricted" admits."""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest
from cryptography import x509
from vigia_devcluster import images
from vigia_testbed import metrics_server as ms

IMAGE = "docker.io/vigia/metrics-server:test"


def _by_kind(objects: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    kinds: dict[str, list[dict[str, Any]]] = {}
    for obj in objects:
        kinds.setdefault(obj["kind"], []).append(obj)
    return kinds


def _one(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    [obj] = _by_kind(objects)[kind]
    return obj


def _container(objects: list[dict[str, Any]]) -> dict[str, Any]:
    [container] = _one(objects, "Deployment")["spec"]["template"]["spec"]["containers"]
    return dict(container)


def _seconds(duration: str) -> int:
    match = re.fullmatch(r"(\d+)s", duration)
    assert match, duration
    return int(match.group(1))


def _flag(container: dict[str, Any], name: str) -> str:
    [value] = [a.split("=", 1)[1] for a in container["args"] if a.startswith(f"--{name}=")]
    return value


def test_the_api_service_names_a_ca_that_signed_the_certificate_the_pod_serves() -> None:
    objects = ms.manifests(IMAGE, ms.KubeletTls.CLUSTER_CA)
    api = _one(objects, "APIService")
    assert api["metadata"]["name"] == "v1beta1.metrics.k8s.io"
    assert "insecureSkipTLSVerify" not in api["spec"]
    assert api["spec"]["service"] == {"name": "metrics-server", "namespace": "kube-system",
                                      "port": 443}
    ca = x509.load_pem_x509_certificate(base64.b64decode(api["spec"]["caBundle"]))
    secret = _one(objects, "Secret")
    served = x509.load_pem_x509_certificate(base64.b64decode(secret["data"]["tls.crt"]))
    served.verify_directly_issued_by(ca)
    names = served.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "metrics-server.kube-system.svc" in names.get_values_for_type(x509.DNSName)
    # The pod serves that Secret's pair.
    container = _container(objects)
    volumes = _one(objects, "Deployment")["spec"]["template"]["spec"]["volumes"]
    [tls] = [v for v in volumes if "secret" in v]
    assert tls["secret"]["secretName"] == secret["metadata"]["name"]
    [mount] = [m for m in container["volumeMounts"] if m["name"] == tls["name"]]
    assert _flag(container, "tls-cert-file") == f"{mount['mountPath']}/tls.crt"
    assert _flag(container, "tls-private-key-file") == f"{mount['mountPath']}/tls.key"


def test_every_install_makes_its_own_certificate_and_a_new_one_restarts_the_pod() -> None:
    first, second = (ms.manifests(IMAGE, ms.KubeletTls.CLUSTER_CA) for _ in range(2))
    assert _one(first, "APIService")["spec"]["caBundle"] != (
        _one(second, "APIService")["spec"]["caBundle"])
    annotations = [_one(o, "Deployment")["spec"]["template"]["metadata"]["annotations"]
                   for o in (first, second)]
    assert annotations[0][ms.CERT_ANNOTATION] != annotations[1][ms.CERT_ANNOTATION]


@pytest.mark.parametrize(("tls", "wanted", "absent"), [
    (ms.KubeletTls.CLUSTER_CA,
     "--kubelet-certificate-authority=/var/run/secrets/kubernetes.io/serviceaccount/ca.crt",
     "--kubelet-insecure-tls"),
    (ms.KubeletTls.INSECURE, "--kubelet-insecure-tls", "--kubelet-certificate-authority"),
])
def test_the_kubelet_is_verified_against_the_cluster_ca_unless_told_not_to(
        tls: ms.KubeletTls, wanted: str, absent: str) -> None:
    args = _container(ms.manifests(IMAGE, tls))["args"]
    assert wanted in args
    assert not any(a.startswith(absent) for a in args)
    # The node's IP: what the local node's serving certificate names.
    assert "--kubelet-preferred-address-types=InternalIP" in args


def test_the_short_resolution_stays_within_what_metrics_server_accepts() -> None:
    # cmd/metrics-server/app/options/options.go: resolution >= 10s and its 9/10 greater
    # than the kubelet request timeout, else metrics-server refuses to start.
    container = _container(ms.manifests(IMAGE, ms.KubeletTls.CLUSTER_CA))
    resolution = _seconds(_flag(container, "metric-resolution"))
    assert resolution == 10
    assert resolution * 9 / 10 > _seconds(_flag(container, "kubelet-request-timeout"))
    assert int(_flag(container, "secure-port")) == container["ports"][0]["containerPort"]


def test_the_rbac_reads_pods_nodes_and_kubelet_metrics_and_nothing_else() -> None:
    objects = ms.manifests(IMAGE, ms.KubeletTls.CLUSTER_CA)
    [role] = _by_kind(objects)["ClusterRole"]
    assert role["rules"] == [
        {"apiGroups": [""], "resources": ["nodes/metrics"], "verbs": ["get"]},
        {"apiGroups": [""], "resources": ["pods", "nodes"], "verbs": ["get", "list", "watch"]},
    ]
    refs = {(b["kind"], b["roleRef"]["name"], b["metadata"].get("namespace"))
            for b in _by_kind(objects)["ClusterRoleBinding"] + _by_kind(objects)["RoleBinding"]}
    assert refs == {
        ("ClusterRoleBinding", role["metadata"]["name"], None),
        ("ClusterRoleBinding", "system:auth-delegator", None),
        ("RoleBinding", "extension-apiserver-authentication-reader", "kube-system"),
    }
    for binding in _by_kind(objects)["ClusterRoleBinding"] + _by_kind(objects)["RoleBinding"]:
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "metrics-server",
                                        "namespace": "kube-system"}]
    deployment = _one(objects, "Deployment")
    assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == "metrics-server"


def test_the_pod_runs_as_non_root_on_a_read_only_root_with_no_capabilities() -> None:
    objects = ms.manifests(IMAGE, ms.KubeletTls.CLUSTER_CA)
    pod = _one(objects, "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    security = _container(objects)["securityContext"]
    assert security == {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                        "readOnlyRootFilesystem": True}
    assert "hostNetwork" not in pod


def test_the_service_selects_the_pod_and_the_image_is_the_one_the_node_is_given() -> None:
    objects = ms.manifests(images.references()[ms.IMAGE_NAME], ms.KubeletTls.CLUSTER_CA)
    template = _one(objects, "Deployment")["spec"]["template"]
    selector = _one(objects, "Service")["spec"]["selector"]
    assert selector.items() <= template["metadata"]["labels"].items()
    assert _container(objects)["image"] == (
        f"docker.io/vigia/metrics-server:{images.versions()['METRICS_SERVER_VERSION']}")
    assert images.versions()["METRICS_SERVER_VERSION"] == ms.version()
    # Applied in an order the API server accepts: the APIService last, once its Service is.
    kinds = [o["kind"] for o in objects]
    assert kinds.index("Service") < kinds.index("APIService") == len(kinds) - 1


def test_the_go_module_pins_the_version_build_sh_names() -> None:
    go_mod = (ms.BUILD_SCRIPT.parent / "go.mod").read_text()
    assert f"sigs.k8s.io/metrics-server {ms.version()} " in go_mod
    assert "tool sigs.k8s.io/metrics-server/cmd/metrics-server" in go_mod
