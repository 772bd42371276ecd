"""Pure builders of each control-plane component's command line.

A real node (kubelet, containerd, kube-proxy) can join later: the apiserver already has
Node authorization, NodeRestriction and a kubelet client certificate, and the
controller-manager signs kubelet CSRs with the cluster CA (see docs/local-cluster.md).
"""

from __future__ import annotations

from pathlib import Path

from vigia_devcluster import nodenet
from vigia_devcluster.layout import HOST, Layout, Ports

SERVICE_CIDR = nodenet.SERVICE_CIDR
POD_CIDR = "10.244.0.1/16"
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"
FAKE_NODE_ANNOTATION = "kwok.x-k8s.io/node=fake"
# With a real node, fake nodes take only pods that tolerate this taint.
FAKE_NODE_TAINT = {"key": "vigia.dev/fake-node", "value": "true", "effect": "NoSchedule"}
# Two cores run the whole control plane, kwok and the tests: under a burst of objects
# kwok's node heartbeats can lag past the grace and the node controller then marks every
# fake pod NotReady for good (kwok never sets Ready again on a Running pod: Deployments
# stay 0/N available while `get pods` shows 1/1). 5 min was not enough over a 35-minute
# test session. Fake nodes never die, and no test waits for a node to be found dead.
NODE_MONITOR_GRACE = "1h"
# The controller-manager's client rate limit (default 20 requests/s) throttles a burst
# of hundreds of Deployments more than the CPU does. (The scheduler's default is 50.)
CLIENT_QPS_FLAGS = ("--kube-api-qps=100", "--kube-api-burst=200")


def build_etcd_args(layout: Layout, ports: Ports) -> list[str]:
    client = f"https://{HOST}:{ports.etcd_client}"
    peer = f"http://{HOST}:{ports.etcd_peer}"
    return [
        "etcd",
        "--name=vigia",
        f"--data-dir={layout.etcd_data}",
        f"--listen-client-urls={client}",
        f"--advertise-client-urls={client}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster=vigia={peer}",
        f"--cert-file={layout.crt('etcd-server')}",
        f"--key-file={layout.key('etcd-server')}",
        f"--trusted-ca-file={layout.crt('ca')}",
        "--client-cert-auth=true",
        "--log-level=warn",
    ]


def build_apiserver_args(layout: Layout, ports: Ports, node_link: str | None = None
                         ) -> list[str]:
    """With node_link (the host end of the real node's link) the apiserver binds and
    advertises it, so the node and pods (through the `kubernetes` Service) reach it."""
    if node_link is None:
        # No --advertise-address: a loopback one is refused in the `kubernetes` Endpoints.
        address = [f"--bind-address={HOST}"]
    else:
        address = [
            f"--bind-address={node_link}",
            f"--advertise-address={node_link}",
            # By hostname first it would ask the machine's resolver about the node.
            "--kubelet-preferred-address-types=InternalIP",
            f"--kubelet-certificate-authority={layout.crt('ca')}",
        ]
    return [
        "kube-apiserver",
        *address,
        f"--secure-port={ports.apiserver}",
        f"--cert-dir={layout.cert_dir('kube-apiserver')}",
        f"--tls-cert-file={layout.crt('apiserver')}",
        f"--tls-private-key-file={layout.key('apiserver')}",
        f"--client-ca-file={layout.crt('ca')}",
        f"--etcd-servers=https://{HOST}:{ports.etcd_client}",
        f"--etcd-cafile={layout.crt('ca')}",
        f"--etcd-certfile={layout.crt('apiserver-etcd-client')}",
        f"--etcd-keyfile={layout.key('apiserver-etcd-client')}",
        "--authorization-mode=Node,RBAC",
        "--enable-admission-plugins=NodeRestriction",
        f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
        f"--service-account-key-file={layout.crt('sa').with_suffix('.pub')}",
        f"--service-account-signing-key-file={layout.key('sa')}",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        f"--kubelet-client-certificate={layout.crt('apiserver-kubelet-client')}",
        f"--kubelet-client-key={layout.key('apiserver-kubelet-client')}",
        # The aggregation layer's front proxy, as kubeadm sets it up.
        f"--requestheader-client-ca-file={layout.crt('front-proxy-ca')}",
        "--requestheader-allowed-names=front-proxy-client",
        "--requestheader-username-headers=X-Remote-User",
        "--requestheader-group-headers=X-Remote-Group",
        "--requestheader-extra-headers-prefix=X-Remote-Extra-",
        f"--proxy-client-cert-file={layout.crt('front-proxy-client')}",
        f"--proxy-client-key-file={layout.key('front-proxy-client')}",
        "--allow-privileged=true",
        "--profiling=false",
        "--v=1",
    ]


def _client_flags(layout: Layout, component: str) -> list[str]:
    kubeconfig = layout.kubeconfig(component)
    return [
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
    ]


def build_controller_manager_args(layout: Layout, ports: Ports) -> list[str]:
    return [
        "kube-controller-manager",
        *_client_flags(layout, "kube-controller-manager"),
        f"--bind-address={HOST}",
        f"--secure-port={ports.controller_manager}",
        f"--cert-dir={layout.cert_dir('kube-controller-manager')}",
        "--leader-elect=false",
        "--cluster-name=vigia",
        "--controllers=*,bootstrapsigner,tokencleaner",
        "--use-service-account-credentials=true",
        f"--service-account-private-key-file={layout.key('sa')}",
        f"--root-ca-file={layout.crt('ca')}",
        f"--cluster-signing-cert-file={layout.crt('ca')}",
        f"--cluster-signing-key-file={layout.key('ca')}",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        f"--node-monitor-grace-period={NODE_MONITOR_GRACE}",
        *CLIENT_QPS_FLAGS,
        "--profiling=false",
        "--v=1",
    ]


def build_scheduler_args(layout: Layout, ports: Ports) -> list[str]:
    return [
        "kube-scheduler",
        *_client_flags(layout, "kube-scheduler"),
        f"--bind-address={HOST}",
        f"--secure-port={ports.scheduler}",
        f"--cert-dir={layout.cert_dir('kube-scheduler')}",
        "--leader-elect=false",
        "--profiling=false",
        "--v=1",
    ]


def build_kwok_args(layout: Layout, config: Path) -> list[str]:
    """kwok as a controller of the nodes annotated as fake (default pod and node stages:
    pods become Ready, Job pods run to completion)."""
    return [
        "kwok",
        f"--config={config}",
        f"--kubeconfig={layout.kubeconfig('kwok')}",
        "--manage-all-nodes=false",
        f"--manage-nodes-with-annotation-selector={FAKE_NODE_ANNOTATION}",
        f"--cidr={POD_CIDR}",
        "--node-ip=10.240.0.1",
    ]


KWOK_CONFIG = """\
apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokConfiguration
options: {}
"""
