"""A local Kubernetes control plane for development and tests.

etcd, kube-apiserver, kube-controller-manager, kube-scheduler (built from the upstream Go
modules by tools/cluster/build.sh) and kwok with fake nodes, all on 127.0.0.1; optionally a
real node (containerd, kubelet, kube-proxy, CoreDNS) in a network namespace of its own.
"""

from vigia_devcluster.cluster import (
    Cluster,
    ClusterError,
    down,
    down_orphaned_sessions,
    load_images,
    session_name,
    status,
    up,
)

__all__ = [
    "Cluster", "ClusterError", "down", "down_orphaned_sessions", "load_images", "session_name",
    "status", "up",
]
