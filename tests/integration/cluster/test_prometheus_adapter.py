"""prometheus-adapter, built from its Go module (tools/prometheus-adapter/build.sh, on first
use), serves the servers' request counter from a real Prometheus as the custom metric the
operator's requestsPerSecond target names, with the rule docs/autoscaling.md gives
(vigia_testbed.prometheus_adapter): the evidence for the adapter issue 29 asks to choose.

A local Prometheus scrapes a counter that rises by 5 a second, labelled with a pod that
exists in the control plane; the adapter runs as a local process against both and is asked
as the HPA controller asks (pods/* by label selector), over TLS, as a client the control
plane authenticates and authorizes (delegated). Not on a real node: the e2e tier does not
install the adapter yet.
"""

from __future__ import annotations

import base64
import socketserver
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
import pytest
import yaml
from vigia_devcluster import pki
from vigia_testbed import prometheus_adapter as pa
from vigia_testbed.kube import wait_for
from vigia_testbed.net import LOOPBACK, free_port
from vigia_testbed.pods import apply
from vigia_testbed.prometheus import PrometheusServer, Target

from vigia import metrics

pytestmark = pytest.mark.integration

POD = "server-0"
LABELS = {"app.kubernetes.io/instance": "scaled"}
RATE = 5.0  # requests a second, the counter's slope
WINDOW = "15s"


@dataclass(frozen=True)
class Adapter:
    url: str
    ca_file: Path
    client: tuple[str, str]  # cert, key: the control plane's admin
    log: Path


def _counter_exporter(namespace: str) -> Iterator[str]:
    began = time.monotonic()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            count = RATE * (time.monotonic() - began)
            body = (f'{metrics.REQUESTS_SERIES}{{namespace="{namespace}",pod="{POD}",'
                    f'endpoint="/predict",code="200"}} {count}\n').encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    server = socketserver.ThreadingTCPServer((LOOPBACK, 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"{LOOPBACK}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _admin_client(kubeconfig: Path, into: Path) -> tuple[str, str]:
    user = yaml.safe_load(kubeconfig.read_text())["users"][0]["user"]
    cert, key = into / "admin.crt", into / "admin.key"
    cert.write_bytes(base64.b64decode(user["client-certificate-data"]))
    key.write_bytes(base64.b64decode(user["client-key-data"]))
    return str(cert), str(key)


@pytest.fixture
def adapter(kubeconfig: Path, namespace: str, tmp_path: Path) -> Iterator[Adapter]:
    binary = pa.binary()
    apply(kubeconfig, {"apiVersion": "v1", "kind": "Pod",
                       "metadata": {"name": POD, "labels": LABELS},
                       "spec": {"containers": [{"name": "main", "image": "unused"}]}},
          namespace=namespace)
    exporter = _counter_exporter(namespace)
    prometheus = PrometheusServer(tmp_path / "prometheus")
    prometheus.start()
    process = None
    try:
        prometheus.set_targets([Target(next(exporter))])
        ca = pki.build_ca("vigia-test-adapter-ca")
        serving = pki.build_cert(ca, "prometheus-adapter", hosts=(LOOPBACK,), server=True,
                                 client=False)
        (tmp_path / "tls.crt").write_bytes(serving.cert_pem())
        (tmp_path / "tls.key").write_bytes(serving.key_pem())
        (tmp_path / "ca.crt").write_bytes(ca.cert_pem())
        (tmp_path / "config.yaml").write_text(yaml.safe_dump(pa.config(WINDOW)))
        port = free_port()
        flags = pa.args(prometheus.url, str(tmp_path / "config.yaml"), port=port,
                        cert_dir=str(tmp_path), relist="2s")
        log = tmp_path / "adapter.log"
        with log.open("w") as out:
            process = subprocess.Popen(
                [str(binary), *flags, f"--bind-address={LOOPBACK}",
                 f"--lister-kubeconfig={kubeconfig}",
                 f"--authentication-kubeconfig={kubeconfig}",
                 f"--authorization-kubeconfig={kubeconfig}"],
                stdout=out, stderr=subprocess.STDOUT)
        yield Adapter(f"https://{LOOPBACK}:{port}", tmp_path / "ca.crt",
                      _admin_client(kubeconfig, tmp_path), log)
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=30)
        prometheus.stop()
        next(exporter, None)


def _tls(adapter: Adapter, *, as_admin: bool) -> ssl.SSLContext:
    """Verifies the adapter's certificate; presents the admin's when asked."""
    context = ssl.create_default_context(cafile=str(adapter.ca_file))
    if as_admin:
        context.load_cert_chain(*adapter.client)
    return context


def _quantity(text: str) -> float:
    return float(text[:-1]) / 1000 if text.endswith("m") else float(text)


def test_the_adapter_serves_each_pods_request_rate_as_the_operators_metric(
        adapter: Adapter, namespace: str) -> None:
    base = f"{adapter.url}/apis/{pa.API_GROUP}/{pa.API_VERSION}"
    selector = ",".join(f"{k}={v}" for k, v in LABELS.items())
    path = f"{base}/namespaces/{namespace}/pods/*/{metrics.REQUESTS_PER_SECOND}"

    def rates() -> list[dict[str, object]]:
        answer = httpx.get(path, params={"labelSelector": selector}, timeout=10,
                           verify=_tls(adapter, as_admin=True))
        if answer.status_code != 200:
            raise RuntimeError(f"{answer.status_code}: {answer.text[:500]}")
        items = list(answer.json().get("items") or [])
        # Once the rate's window holds a full WINDOW of samples, the rate is the slope.
        settled = [i for i in items if RATE * 0.8 <= _quantity(str(i["value"])) <= RATE * 1.2]
        return items if settled else []

    try:
        items = wait_for(rates, 90, f"{metrics.REQUESTS_PER_SECOND} of pod {POD}", interval=2)
    except AssertionError as error:
        raise AssertionError(f"{error}\n{adapter.log.read_text()[-3000:]}") from None
    [item] = items
    described = item["describedObject"]
    assert isinstance(described, dict)
    assert (described["kind"], described["namespace"], described["name"]) == (
        "Pod", namespace, POD)
    assert RATE * 0.8 <= _quantity(str(item["value"])) <= RATE * 1.2, item

    discovery = httpx.get(base, timeout=10, verify=_tls(adapter, as_admin=True)).json()
    assert f"pods/{metrics.REQUESTS_PER_SECOND}" in {r["name"] for r in discovery["resources"]}
    # Delegated authorization: a client the control plane does not know is refused.
    anonymous = httpx.get(path, params={"labelSelector": selector}, timeout=10,
                          verify=_tls(adapter, as_admin=False))
    assert anonymous.status_code in (401, 403)
