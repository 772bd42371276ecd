"""metrics-server, built from its Go module (tools/metrics-server/build.sh, on first use),
accepts the flags the e2e tier's manifest gives it (vigia_testbed.metrics_server.args: the
short resolution, the kubelet verified against the cluster CA) and serves the certificate
made for the install, which a client holding the APIService's caBundle verifies under the
Service's name. It runs as a local process against the control plane, which authorizes the
requests it is asked (delegated authorization: an anonymous read of the metrics API is
refused by the API server's answer, not by metrics-server's own rules).

No kubelet here (kwok nodes): scraping is the e2e tier's part
(tests/e2e/test_serving_autoscaling.py).
"""

from __future__ import annotations

import base64
import json
import socket
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from vigia_testbed import metrics_server as ms
from vigia_testbed.kube import kubectl, wait_for
from vigia_testbed.net import LOOPBACK, free_port

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Running:
    port: int
    ca_file: Path
    log: Path


def _cluster_ca(kubeconfig: Path, into: Path) -> Path:
    cluster = yaml.safe_load(kubeconfig.read_text())["clusters"][0]["cluster"]
    path = into / "cluster-ca.crt"
    if "certificate-authority-data" in cluster:
        path.write_bytes(base64.b64decode(cluster["certificate-authority-data"]))
    else:
        path.write_bytes(Path(cluster["certificate-authority"]).read_bytes())
    return path


@pytest.fixture
def metrics_server(kubeconfig: Path, tmp_path: Path) -> Iterator[Running]:
    binary = ms.binary()
    ca, serving = ms.serving_certificate()
    (tmp_path / "tls.crt").write_bytes(serving.cert_pem())
    (tmp_path / "tls.key").write_bytes(serving.key_pem())
    (tmp_path / "ca.crt").write_bytes(ca.cert_pem())
    port = free_port()
    flags = ms.args(ms.KubeletTls.CLUSTER_CA, port=port, cert_dir=str(tmp_path),
                    kubelet_ca=str(_cluster_ca(kubeconfig, tmp_path)))
    log = tmp_path / "metrics-server.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [str(binary), *flags, f"--bind-address={LOOPBACK}", f"--kubeconfig={kubeconfig}",
             f"--authentication-kubeconfig={kubeconfig}",
             f"--authorization-kubeconfig={kubeconfig}"],
            stdout=out, stderr=subprocess.STDOUT)
    try:
        yield Running(port, tmp_path / "ca.crt", log)
    finally:
        process.terminate()
        process.wait(timeout=30)


def _get(running: Running, path: str) -> tuple[int, str]:
    """GET path over TLS verified against the caBundle's CA, under the Service's name."""
    context = ssl.create_default_context(cafile=str(running.ca_file))
    with socket.create_connection((LOOPBACK, running.port), timeout=5) as raw, \
            context.wrap_socket(raw, server_hostname=ms.service_host()) as tls:
        tls.sendall(f"GET {path} HTTP/1.1\r\nHost: {ms.service_host()}\r\n"
                    "Connection: close\r\n\r\n".encode())
        answer = b""
        while chunk := tls.recv(65536):
            answer += chunk
    status_line, _, body = answer.decode(errors="replace").partition("\r\n")
    return int(status_line.split()[1]), body


def test_it_starts_with_the_manifests_flags_and_serves_the_installs_certificate(
        metrics_server: Running) -> None:
    def alive() -> bool:
        return _get(metrics_server, "/livez")[0] == 200

    try:
        wait_for(alive, 60, "metrics-server's /livez over verified TLS")
    except AssertionError:
        raise AssertionError(metrics_server.log.read_text()[-3000:]) from None
    status, body = _get(metrics_server, "/apis/metrics.k8s.io/v1beta1/nodes")
    assert status == 403, body  # anonymous, refused by the API server's SubjectAccessReview
    assert "system:anonymous" in body


def test_a_client_without_the_installs_ca_refuses_it(metrics_server: Running,
                                                      tmp_path: Path) -> None:
    wait_for(lambda: _get(metrics_server, "/livez")[0] == 200, 60, "metrics-server up")
    other, _ = ms.serving_certificate()
    (tmp_path / "other-ca.crt").write_bytes(other.cert_pem())
    with pytest.raises(ssl.SSLCertVerificationError):
        _get(Running(metrics_server.port, tmp_path / "other-ca.crt", metrics_server.log),
             "/livez")


def test_the_api_server_accepts_the_manifest_and_pod_security_restricted_admits_its_pod(
        kubeconfig: Path, namespace: str) -> None:
    objects = ms.manifests("docker.io/vigia/metrics-server:test", ms.KubeletTls.CLUSTER_CA)
    kubectl(kubeconfig, "apply", "--dry-run=server", "-f", "-",
            input=json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}))
    kubectl(kubeconfig, "label", "namespace", namespace,
            "pod-security.kubernetes.io/enforce=restricted")
    [deployment] = [o for o in objects if o["kind"] == "Deployment"]
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "metrics-server", "namespace": namespace},
           "spec": {**deployment["spec"]["template"]["spec"], "serviceAccountName": "default"}}
    out = kubectl(kubeconfig, "apply", "--dry-run=server", "-f", "-", input=json.dumps(pod))
    assert "created (server dry run)" in out


def test_an_api_service_without_its_server_is_not_served_and_says_why(
        kubeconfig: Path) -> None:
    [api] = [o for o in ms.manifests("unused", ms.KubeletTls.CLUSTER_CA)
             if o["kind"] == "APIService"]
    kubectl(kubeconfig, "apply", "-f", "-", input=json.dumps(api))
    try:
        def why() -> str:
            try:
                ms.require_available(kubeconfig)
            except RuntimeError as error:
                return str(error)
            return ""

        said: str = wait_for(lambda: why() if "ServiceNotFound" in why() else "", 60,
                             "the aggregator's verdict on the APIService")
        assert said.startswith("v1beta1.metrics.k8s.io not Available: ServiceNotFound: ")
        assert not ms.served(kubeconfig)
    finally:
        kubectl(kubeconfig, "delete", "apiservice", ms.API_SERVICE, "--ignore-not-found")
