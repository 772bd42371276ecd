"""Traefik, built by tools/gateway/build.sh, as the Gateway API implementation of a test cluster.

Traefik runs as a local process on 127.0.0.1 (no node): its kubernetesGateway provider talks
to the cluster's API server with a ServiceAccount token bound to the RBAC Traefik documents
(docs/content/reference/dynamic-configuration/kubernetes-gateway-rbac.yml of its module), and
routes to the addresses of Services' EndpointSlices.

The API server refuses loopback addresses in an EndpointSlice ("may not be in the loopback
range"), so the slices name addresses of TEST-NET-1 (192.0.2.0/24, RFC 5737: never routed)
and Traefik reaches them through a SOCKS5 relay on loopback (its backend transport honours
HTTP_PROXY, and Go never proxies loopback, so the API server is reached directly). The relay
connects each backend connection to 127.0.0.1 at the address's port; a SOCKS relay, not an
HTTP proxy, because Traefik passes the client's Host header on and Go then names that host, not
the backend's address, in a proxied request line. Used by
tests/integration/rollout/test_gateway_split.py.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import socket
import socketserver
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import httpx
from vigia_devcluster.binaries import parse_versions
from vigia_devcluster.kubectl import apply, get, kubectl

from vigia_testbed.net import LOOPBACK, free_port

ROOT = Path(__file__).resolve().parents[3]
BUILD_SCRIPT = ROOT / "tools" / "gateway" / "build.sh"
VERSIONS = ROOT / "tools" / "gateway" / "versions.env"
CONTROLLER_NAME = "traefik.io/gateway-controller"  # Traefik's fixed GatewayClass controllerName
BUILD_TIMEOUT_S = 3600  # cold, on two shared cores
Obj = dict[str, Any]


def _version() -> str:
    return parse_versions(VERSIONS.read_text())["TRAEFIK_VERSION"]


def binary() -> Path:
    """traefik from the build cache, built first by build.sh when missing or out of date."""
    done = subprocess.run(["bash", str(BUILD_SCRIPT)], capture_output=True, text=True,
                          timeout=BUILD_TIMEOUT_S, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{BUILD_SCRIPT} failed: {done.stdout[-3000:]}{done.stderr[-3000:]}")
    cache_root = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    default = cache_root / "vigia" / f"traefik-{_version()}"
    cache = Path(os.environ.get("VIGIA_TRAEFIK_CACHE", default))
    return cache / "bin" / "traefik"


# --- the controller's identity -----------------------------------------------------------------

def controller_rbac(name: str, namespace: str) -> list[Obj]:
    """ServiceAccount ``name`` in ``namespace`` bound to a ClusterRole ``name`` with the rules
    Traefik documents for its Gateway provider (without pods: no OpenTelemetry here)."""
    read = ["get", "list", "watch"]
    routes = ["gatewayclasses", "gateways", "httproutes", "grpcroutes", "tcproutes",
              "tlsroutes", "referencegrants", "backendtlspolicies"]
    rules = [
        {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["list", "watch"]},
        {"apiGroups": [""], "resources": ["services", "secrets", "configmaps"], "verbs": read},
        {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"],
         "verbs": ["list", "watch"]},
        {"apiGroups": ["gateway.networking.k8s.io"], "resources": routes, "verbs": read},
        {"apiGroups": ["gateway.networking.k8s.io"], "resources": [f"{r}/status" for r in routes],
         "verbs": ["update"]},
    ]
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount",
         "metadata": {"name": name, "namespace": namespace}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
         "metadata": {"name": name}, "rules": rules},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": {"name": name},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
         "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}]},
    ]


@dataclass(frozen=True)
class ApiAccess:
    """What Traefik's provider needs to reach the API server as a ServiceAccount."""

    endpoint: str
    token: str
    ca_file: Path


def service_account_access(kubeconfig: Path, name: str, namespace: str, work: Path) -> ApiAccess:
    """The API server of ``kubeconfig``, its CA (written into ``work``) and a token of the
    ServiceAccount (TokenRequest, one hour)."""
    config = json.loads(kubectl(kubeconfig, "config", "view", "--raw", "--minify", "-o", "json"))
    cluster = config["clusters"][0]["cluster"]
    ca_file = work / "api-ca.crt"
    if "certificate-authority-data" in cluster:
        ca_file.write_bytes(base64.b64decode(cluster["certificate-authority-data"]))
    else:
        ca_file.write_bytes(Path(cluster["certificate-authority"]).read_bytes())
    token = kubectl(kubeconfig, "create", "token", name, "-n", namespace, "--duration=1h").strip()
    return ApiAccess(cluster["server"], token, ca_file)


# --- Gateway API objects -----------------------------------------------------------------------

def gateway_class(name: str) -> Obj:
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
            "metadata": {"name": name}, "spec": {"controllerName": CONTROLLER_NAME}}


def gateway(name: str, class_name: str, port: int) -> Obj:
    """An HTTP Gateway; Traefik serves a listener on the entrypoint whose port is ``port``."""
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
            "metadata": {"name": name},
            "spec": {"gatewayClassName": class_name,
                     "listeners": [{"name": "web", "protocol": "HTTP", "port": port,
                                    "allowedRoutes": {"namespaces": {"from": "Same"}}}]}}


def weighted_route(name: str, gateway_name: str, backends: dict[str, int], port: int) -> Obj:
    """An HTTPRoute with one rule splitting by weight over Services ``backends`` (name: weight)."""
    refs = [{"name": service, "port": port, "weight": weight}
            for service, weight in backends.items()]
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": name},
            "spec": {"parentRefs": [{"name": gateway_name}], "rules": [{"backendRefs": refs}]}}


def service_with_endpoint(name: str, port: int, address: str, target_port: int) -> list[Obj]:
    """A Service without selector and its EndpointSlice pointing at ``address:target_port``."""
    return [
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
         "spec": {"ports": [{"name": "http", "port": port, "protocol": "TCP"}]}},
        {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
         "metadata": {"name": f"{name}-endpoints",
                      "labels": {"kubernetes.io/service-name": name,
                                 "endpointslice.kubernetes.io/managed-by": "vigia-tests"}},
         "addressType": "IPv4",
         "ports": [{"name": "http", "port": target_port, "protocol": "TCP"}],
         "endpoints": [{"addresses": [address], "conditions": {"ready": True}}]},
    ]


def route_condition(kubeconfig: Path, namespace: str, route: str, kind: str) -> str | None:
    """Status (True/False) of condition ``kind`` that a Traefik controller set on the route's
    current generation (None while it has not judged that generation)."""
    body = get(kubeconfig, "httproute", route, "-n", namespace)
    generation = body["metadata"]["generation"]
    for parent in body.get("status", {}).get("parents", []):
        if parent.get("controllerName") != CONTROLLER_NAME:
            continue
        for condition in parent.get("conditions", []):
            if condition["type"] == kind and condition.get("observedGeneration") == generation:
                return str(condition["status"])
    return None


def apply_all(kubeconfig: Path, namespace: str, objects: list[Obj]) -> None:
    apply(kubeconfig, *objects, namespace=namespace)


# --- processes ---------------------------------------------------------------------------------

@dataclass
class Traefik:
    """One Traefik process: entrypoint ``web`` on 127.0.0.1:``port`` (the Gateway listener's
    port) and ping on the ``traefik`` entrypoint; Gateway provider watching ``namespace``."""

    work: Path
    access: ApiAccess
    namespace: str
    backend_proxy: str  # socks5://127.0.0.1:PORT of a socks_relay
    port: int = field(default_factory=free_port)
    ping_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def log(self) -> Path:
        return self.work / "traefik.log"

    def command(self) -> list[str]:
        provider = "--providers.kubernetesgateway"
        return [
            str(binary()),
            f"--entryPoints.web.address={LOOPBACK}:{self.port}",
            f"--entryPoints.traefik.address={LOOPBACK}:{self.ping_port}",
            "--ping=true",
            "--api.insecure=true",  # the API on the traefik entrypoint (loopback): what is served
            "--api.dashboard=false",  # not built (see tools/gateway/build.sh)
            "--global.checkNewVersion=false",
            "--global.sendAnonymousUsage=false",
            "--log.level=DEBUG",
            f"{provider}=true",
            f"{provider}.endpoint={self.access.endpoint}",
            f"{provider}.token={self.access.token}",
            f"{provider}.certAuthFilePath={self.access.ca_file}",
            f"{provider}.namespaces={self.namespace}",
        ]

    def start(self, timeout: float = 60) -> Traefik:
        self.work.mkdir(parents=True, exist_ok=True)
        # Without KUBECONFIG, which Traefik's client would prefer to the endpoint and token.
        env = {k: v for k, v in os.environ.items()
               if "proxy" not in k.lower() and k != "KUBECONFIG"}
        env.update(HTTP_PROXY=self.backend_proxy, NO_PROXY=f"{LOOPBACK},localhost")
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(self.command(), stdout=out, stderr=subprocess.STDOUT,
                                            env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"traefik exited: {self.log.read_text()[-3000:]}")
            try:
                ping = httpx.get(f"http://{LOOPBACK}:{self.ping_port}/ping", timeout=2)
                if ping.status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"traefik not ready in {timeout}s: {self.log.read_text()[-3000:]}")

    def weighted_services(self) -> list[dict[str, int]]:
        """Weighted (WRR) services of the configuration Traefik serves now: backend service
        name -> weight."""
        response = httpx.get(f"http://{LOOPBACK}:{self.ping_port}/api/http/services", timeout=10)
        response.raise_for_status()
        return [{backend["name"]: backend.get("weight", 1)
                 for backend in service["weighted"]["services"]}
                for service in response.json() if "weighted" in service]

    def stop(self, timeout: float = 30) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class _Socks5Relay(socketserver.StreamRequestHandler):
    """A SOCKS5 CONNECT (no authentication) to an IPv4 address and port, relayed to
    127.0.0.1 at that port; counts the connections per address."""

    connections: dict[str, int]  # set by socks_relay

    def setup(self) -> None:
        super().setup()
        _no_delay(self.connection)

    def handle(self) -> None:
        read = self.rfile.read
        _version, methods = read(2)
        read(methods)
        self.wfile.write(b"\x05\x00")  # no authentication
        _version, command, _reserved, address_type = read(4)
        if command != 1 or address_type != 1:  # CONNECT to an IPv4 address only
            self.wfile.write(b"\x05\x07\x00\x01" + bytes(6))
            return
        address = socket.inet_ntoa(read(4))
        port = int.from_bytes(read(2), "big")
        self.connections[address] = self.connections.get(address, 0) + 1
        with socket.create_connection((LOOPBACK, port), timeout=30) as upstream:
            _no_delay(upstream)
            self.wfile.write(b"\x05\x00\x00\x01" + bytes(6))
            self.wfile.flush()
            back = threading.Thread(target=_pump, args=(upstream, self.connection), daemon=True)
            back.start()
            _pump(self.connection, upstream)
            back.join(30)


def _no_delay(connection: socket.socket) -> None:
    """Send small writes at once: Nagle's algorithm against delayed ACKs costs 40 ms a request."""
    connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _pump(source: socket.socket, sink: socket.socket) -> None:
    """Copy bytes until ``source`` closes, then close ``sink``'s sending side."""
    try:
        while chunk := source.recv(65536):
            sink.sendall(chunk)
    except OSError:
        pass
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)


class _Answer(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Traefik's pooled connections expect
    body = b""

    def setup(self) -> None:
        super().setup()
        _no_delay(self.connection)

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass


@contextmanager
def _serving(handler: type[socketserver.BaseRequestHandler]) -> Iterator[int]:
    server = socketserver.ThreadingTCPServer((LOOPBACK, 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@contextmanager
def answering_server(answer: str) -> Iterator[int]:
    """An HTTP server on 127.0.0.1 (a free port) answering every GET with ``answer``;
    yields its port."""
    with _serving(type("Answer", (_Answer,), {"body": answer.encode()})) as port:
        yield port


@contextmanager
def socks_relay(connections: dict[str, int]) -> Iterator[str]:
    """Traefik's backend proxy (see the module's docstring); yields its URL and counts the
    connections per target address into ``connections``."""
    with _serving(type("Relay", (_Socks5Relay,), {"connections": connections})) as port:
        yield f"socks5://{LOOPBACK}:{port}"


def count_answers(url: str, requests: int) -> dict[str, int]:
    """Send ``requests`` GETs over one keep-alive connection; how many times each body came."""
    counts: dict[str, int] = {}
    with httpx.Client(base_url=url, timeout=30) as client:
        for _ in range(requests):
            response = client.get("/")
            response.raise_for_status()
            counts[response.text] = counts.get(response.text, 0) + 1
    return counts
