"""The real node runs real pods: they get IPs, Services route through kube-proxy, cluster DNS
resolves Service names, and exec/logs/port-forward reach the kubelet."""

from __future__ import annotations

import ipaddress
import json
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from vigia_devcluster.binaries import kubectl_path
from vigia_testbed.kube import kubectl, wait_for
from vigia_testbed.net import free_port
from vigia_testbed.pods import apply, exec_in, python_in, tool_pod, wait_ready

pytestmark = pytest.mark.e2e

WEB_PORT = 8080


def _web(namespace: str) -> list[dict[str, Any]]:
    """Two replicas of a tiny HTTP server answering with their own hostname, and a Service."""
    serve = ("import http.server, socket\n"
             "class H(http.server.BaseHTTPRequestHandler):\n"
             "    def do_GET(self):\n"
             "        body = socket.gethostname().encode()\n"
             "        self.send_response(200); self.end_headers(); self.wfile.write(body)\n"
             f"http.server.HTTPServer(('0.0.0.0', {WEB_PORT}), H).serve_forever()\n")
    pod = tool_pod("web", command=["python3", "-c", serve])
    pod["spec"]["containers"][0]["readinessProbe"] = {
        "tcpSocket": {"port": WEB_PORT}, "periodSeconds": 1}
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": namespace},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": pod["metadata"], "spec": pod["spec"]}},
    }
    service = {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": namespace},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": WEB_PORT}]},
    }
    return [deployment, service]


def test_pods_get_ips_services_route_and_dns_resolves(kubeconfig: Path, namespace: str) -> None:
    apply(kubeconfig, *_web(namespace), tool_pod("client"), namespace=namespace)
    kubectl(kubeconfig, "-n", namespace, "rollout", "status", "deployment/web", "--timeout=120s")
    wait_ready(kubeconfig, namespace, "pod/client")

    pods = json.loads(kubectl(kubeconfig, "-n", namespace, "get", "pods", "-l", "app=web",
                              "-o", "json"))["items"]
    ips = {p["status"]["podIP"] for p in pods}
    assert len(ips) == 2
    for ip in ips:
        ipaddress.ip_address(ip)  # a real address, given by CNI

    fqdn = f"web.{namespace}.svc.cluster.local"
    resolved = exec_in(kubeconfig, namespace, "client", "getent", "hosts", fqdn).split()[0]
    cluster_ip = kubectl(kubeconfig, "-n", namespace, "get", "service", "web",
                         "-o", "jsonpath={.spec.clusterIP}")
    assert resolved == cluster_ip

    # Through the Service by its short name (search path), kube-proxy spreads the calls.
    # A Service kube-proxy has not programmed yet has no route in the node ("Network is
    # unreachable"), and it adds the endpoints one by one as it sees them: the pod calls
    # until every pod has answered (a loaded machine takes seconds), for at most 45 s.
    names = {p["metadata"]["name"] for p in pods}
    code = ("import time, urllib.request as u\n"
            f"expected = {len(names)}\n"
            "answered = set()\n"
            "deadline = time.monotonic() + 45\n"
            "while len(answered) < expected and time.monotonic() < deadline:\n"
            "    try:\n"
            "        answered.add(u.urlopen('http://web/', timeout=5).read().decode())\n"
            "    except OSError:\n"
            "        time.sleep(0.5)\n"
            "print(' '.join(sorted(answered)))\n")
    answered = set(python_in(kubeconfig, namespace, "client", code).split())
    assert answered == names


def test_pods_reach_the_api_through_the_kubernetes_service(
    kubeconfig: Path, namespace: str
) -> None:
    apply(kubeconfig, tool_pod("client"), namespace=namespace)
    wait_ready(kubeconfig, namespace, "pod/client")
    code = ("import ssl, urllib.request as u, urllib.error as e\n"
            "c = ssl.create_default_context(cafile="
            "'/var/run/secrets/kubernetes.io/serviceaccount/ca.crt')\n"
            "try:\n"
            "    u.urlopen('https://kubernetes.default.svc/version', context=c, timeout=5)\n"
            "except e.HTTPError as err:\n"
            "    print(err.code)\n"
            "else:\n"
            "    print(200)\n")
    # TLS verified against the cluster CA; any HTTP answer proves the route to the apiserver.
    assert python_in(kubeconfig, namespace, "client", code).strip() in {"200", "401", "403"}


def test_logs_and_port_forward_reach_the_pod(kubeconfig: Path, namespace: str) -> None:
    apply(kubeconfig, *_web(namespace), namespace=namespace)
    kubectl(kubeconfig, "-n", namespace, "rollout", "status", "deployment/web", "--timeout=120s")
    port = free_port()
    forward = subprocess.Popen(
        [str(kubectl_path()), f"--kubeconfig={kubeconfig}", "-n", namespace, "port-forward",
         "service/web", f"{port}:80"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        body = wait_for(lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5)
                        .read().decode(), 60, "port-forward answering")
        assert body.startswith("web-")
    finally:
        forward.terminate()
        forward.wait(timeout=10)
    pod = body.strip()
    time.sleep(0.5)
    logs = kubectl(kubeconfig, "-n", namespace, "logs", pod)
    assert "GET / HTTP" in logs  # the server's access log, read from the node
