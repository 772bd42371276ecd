"""Pure builders of the real node's configuration: containerd, CNI, kubelet, kube-proxy."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from vigia_devcluster import nodenet

NODE_NAME = "vigia-node"
NODE_LABEL = ("vigia.dev/node", "real")
CLUSTER_DNS = "10.96.0.10"
CLUSTER_DOMAIN = "cluster.local"
CNI_BIN_DIR = "/usr/lib/cni"
KUBELET_PORT = 10250


@dataclass(frozen=True)
class NodePaths:
    """Every path of the real node, under the cluster's state directory."""

    root: Path

    @property
    def containerd_root(self) -> Path:
        return self.root / "containerd" / "root"

    @property
    def containerd_state(self) -> Path:
        return self.root / "containerd" / "state"

    @property
    def containerd_socket(self) -> Path:
        return self.root / "containerd" / "containerd.sock"

    @property
    def containerd_config(self) -> Path:
        return self.root / "containerd" / "config.toml"

    @property
    def cni_conf_dir(self) -> Path:
        return self.root / "cni" / "net.d"

    @property
    def cni_ipam_dir(self) -> Path:
        return self.root / "cni" / "ipam"

    @property
    def kubelet_root(self) -> Path:
        return self.root / "kubelet"

    @property
    def kubelet_config(self) -> Path:
        return self.root / "kubelet-config.yaml"

    @property
    def pod_logs(self) -> Path:
        return self.root / "pod-logs"

    @property
    def kube_proxy_config(self) -> Path:
        return self.root / "kube-proxy-config.yaml"

    @property
    def volumes(self) -> Path:
        """Where the node's hostPath PersistentVolumes keep their data."""
        return self.root / "volumes"


def build_containerd_config(paths: NodePaths, sandbox_image: str) -> str:
    cri = 'plugins."io.containerd.grpc.v1.cri"'
    return f"""\
version = 2
root = "{paths.containerd_root}"
state = "{paths.containerd_state}"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
                    "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]

[grpc]
  address = "{paths.containerd_socket}"

[{cri}]
  sandbox_image = "{sandbox_image}"
  # root here lacks CAP_SYS_RESOURCE: runc cannot set a negative oom_score_adj.
  restrict_oom_score_adj = true
  enable_selinux = false
  [{cri}.containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [{cri}.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [{cri}.containerd.runtimes.runc.options]
        SystemdCgroup = false
  [{cri}.cni]
    bin_dir = "{CNI_BIN_DIR}"
    conf_dir = "{paths.cni_conf_dir}"
"""


def build_cni_conflist(paths: NodePaths) -> str:
    """A bridge in the node's namespace; pods get routes to Services and the node link only
    (no default route), and no masquerading."""
    return json.dumps({
        "cniVersion": "1.0.0",
        "name": "vigia",
        "plugins": [
            {
                "type": "bridge",
                "bridge": "cni0",
                "isGateway": True,
                "ipMasq": False,
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "dataDir": str(paths.cni_ipam_dir),
                    "ranges": [[{"subnet": nodenet.POD_CIDR, "gateway": nodenet.POD_GATEWAY}]],
                    "routes": [{"dst": nodenet.SERVICE_CIDR}, {"dst": nodenet.LINK_CIDR}],
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }, indent=2)


def build_kubelet_config(paths: NodePaths, ca: Path, cert: Path, key: Path) -> str:
    config = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "address": nodenet.NODE_IP,
        "port": KUBELET_PORT,
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": 10248,
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True},
            "x509": {"clientCAFile": str(ca)},
        },
        "authorization": {"mode": "Webhook"},
        "tlsCertFile": str(cert),
        "tlsPrivateKeyFile": str(key),
        "containerRuntimeEndpoint": f"unix://{paths.containerd_socket}",
        "cgroupDriver": "cgroupfs",
        "failSwapOn": False,
        "failCgroupV1": False,
        # The machine's disk is shared: never evict for its fill level; containerd 1.6
        # does not pin the sandbox image, so image GC must never run either.
        "evictionHard": {"memory.available": "0%", "nodefs.available": "0%",
                         "nodefs.inodesFree": "0%", "imagefs.available": "0%"},
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "resolvConf": "",
        "clusterDNS": [CLUSTER_DNS],
        "clusterDomain": CLUSTER_DOMAIN,
        "podCIDR": nodenet.POD_CIDR,
        "podLogsDir": str(paths.pod_logs),
        "serializeImagePulls": False,
        "maxPods": 110,
    }
    return json.dumps(config, indent=2)


def build_kubelet_args(paths: NodePaths, kubeconfig: Path) -> list[str]:
    return [
        "kubelet",
        f"--config={paths.kubelet_config}",
        f"--kubeconfig={kubeconfig}",
        f"--root-dir={paths.kubelet_root}",
        f"--cert-dir={paths.root / 'kubelet-certs'}",
        f"--hostname-override={NODE_NAME}",
        f"--node-ip={nodenet.NODE_IP}",
        f"--node-labels={NODE_LABEL[0]}={NODE_LABEL[1]}",
        "--v=1",
    ]


def build_kube_proxy_config(kubeconfig: Path) -> str:
    config = {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "clientConnection": {"kubeconfig": str(kubeconfig)},
        "mode": "iptables",
        "clusterCIDR": nodenet.POD_CIDR,
        "hostnameOverride": NODE_NAME,
        "bindAddress": nodenet.NODE_IP,
        "healthzBindAddress": "127.0.0.1:10256",
        "metricsBindAddress": "127.0.0.1:10249",
        "nodePortAddresses": [f"{nodenet.NODE_IP}/32"],
        "conntrack": {"maxPerCore": 0},  # leave the machine's conntrack sysctls alone
    }
    return json.dumps(config, indent=2)


def build_kube_proxy_args(paths: NodePaths) -> list[str]:
    return ["kube-proxy", f"--config={paths.kube_proxy_config}", "--v=1"]
