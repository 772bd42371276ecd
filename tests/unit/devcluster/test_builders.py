"""The local cluster launcher's pure parts: no processes started."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from vigia_devcluster import binaries, components, down_orphaned_sessions, pki, session_name
from vigia_devcluster.layout import Layout, Ports, Proc, State, validate_name
from vigia_devcluster.manifests import build_fake_node, build_kubeconfig

PORTS = Ports(etcd_client=2379, etcd_peer=2380, apiserver=6443, controller_manager=10257,
              scheduler=10259)


def test_parse_versions_ignores_comments_and_blank_lines() -> None:
    text = "# comment\n\nKUBE_VERSION=v1.34.4\n HELM_VERSION = v3.19.4 \n"
    assert binaries.parse_versions(text) == {"KUBE_VERSION": "v1.34.4", "HELM_VERSION": "v3.19.4"}


def test_go_module_pins_the_kubernetes_version_of_versions_env() -> None:
    go_mod = (binaries.BUILD_SCRIPT.parent / "go.mod").read_text()
    kube = binaries.versions()["KUBE_VERSION"]
    assert f"k8s.io/kubernetes {kube}" in go_mod
    staging = kube.replace("v1.", "v0.", 1)
    assert f"k8s.io/client-go => k8s.io/client-go {staging}" in go_mod


@pytest.mark.parametrize("bad", ["", "Upper", "-lead", "trail-", "a/b", "x" * 41])
def test_invalid_cluster_names_are_refused_with_the_field_named(bad: str) -> None:
    with pytest.raises(ValueError, match="cluster name"):
        validate_name(bad)


def test_state_round_trips_through_json() -> None:
    state = State("dev", PORTS, nodes=["n0"], procs=[Proc("etcd", 42, 1234)])
    assert State.from_json(state.to_json()) == state


def test_leaf_certificate_carries_identity_sans_and_usages() -> None:
    ca = pki.build_ca("test-ca")
    leaf = pki.build_cert(ca, "kube-apiserver", organizations=("org",),
                          hosts=("127.0.0.1", "kubernetes"), server=True, client=False)
    cert = leaf.cert
    assert cert.issuer == ca.cert.subject
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "kube-apiserver"
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "org"
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    assert sans.get_values_for_type(x509.DNSName) == ["kubernetes"]
    usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usages) == [ExtendedKeyUsageOID.SERVER_AUTH]
    cert.verify_directly_issued_by(ca.cert)


def test_kubeconfig_embeds_server_ca_and_client_credentials() -> None:
    ca = pki.build_ca("ca")
    client = pki.build_cert(ca, "someone")
    config = build_kubeconfig("https://127.0.0.1:6443", ca.cert_pem(), "admin", client)
    assert config["clusters"][0]["cluster"]["server"] == "https://127.0.0.1:6443"
    assert config["users"][0]["user"]["client-key-data"]
    assert config["current-context"] == config["contexts"][0]["name"]


def test_fake_node_is_annotated_for_kwok_and_labelled() -> None:
    node = build_fake_node("n1", components.FAKE_NODE_ANNOTATION)
    assert node["metadata"]["annotations"]["kwok.x-k8s.io/node"] == "fake"
    assert node["metadata"]["labels"]["type"] == "kwok"
    assert node["status"]["allocatable"]["pods"] == "110"


def test_control_plane_binds_loopback_with_tls_and_node_rbac_authorization() -> None:
    layout = Layout(Path("/state"))
    apiserver = components.build_apiserver_args(layout, PORTS)
    assert "--authorization-mode=Node,RBAC" in apiserver
    assert "--bind-address=127.0.0.1" in apiserver
    assert "--secure-port=6443" in apiserver
    assert "--etcd-servers=https://127.0.0.1:2379" in apiserver
    assert "--service-account-signing-key-file=/state/pki/sa.key" in apiserver
    manager = components.build_controller_manager_args(layout, PORTS)
    assert "--use-service-account-credentials=true" in manager
    assert "--root-ca-file=/state/pki/ca.crt" in manager
    for args in (manager, components.build_scheduler_args(layout, PORTS)):
        assert "--bind-address=127.0.0.1" in args
        assert any(arg.startswith("--cert-dir=/state/certs/") for arg in args)
    etcd = components.build_etcd_args(layout, PORTS)
    assert "--client-cert-auth=true" in etcd
    assert all("0.0.0.0" not in arg for arg in apiserver + manager + etcd)


def test_orphaned_session_clusters_are_removed_and_live_ones_kept(tmp_path: Path) -> None:
    dead, alive = session_name(999_999_999), session_name(os.getpid())
    for name in (dead, alive):
        (tmp_path / name).mkdir()
        (tmp_path / name / "state.json").write_text(State(name, PORTS).to_json())
        (tmp_path / f".{name}.lock").touch()

    assert down_orphaned_sessions(state_root=tmp_path) == [dead]
    assert not (tmp_path / dead).exists()
    assert not (tmp_path / f".{dead}.lock").exists()
    assert (tmp_path / alive / "state.json").exists()
