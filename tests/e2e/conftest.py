"""The e2e tier: real pods on a real node.

`kubeconfig` (session) overrides the kwok cluster of tests/fixtures/cluster.py:
1. $KUBECONFIG when set (e.g. a kind cluster in a user's CI, with the images of
   `python3 -m vigia_devcluster images --list` loaded under the same names);
2. otherwise a local cluster private to the session with the real node (needs root),
   every image built (cached) and imported, stopped at the end of the session.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from vigia_testbed import metrics_server
from vigia_testbed import pods as support


@pytest.fixture(scope="session")
def kubeconfig() -> Iterator[Path]:
    external = os.environ.get("KUBECONFIG")
    if external:
        yield Path(external.split(os.pathsep)[0])
        return
    if os.geteuid() != 0:
        pytest.skip("the local real node needs root (containerd, network namespaces); "
                    "or set KUBECONFIG to a cluster with real nodes (kind)")
    import vigia_devcluster

    vigia_devcluster.down_orphaned_sessions()
    name = vigia_devcluster.session_name(os.getpid(), "node")
    cluster = vigia_devcluster.up(name, nodes=0, real_node=True, timeout=600)
    try:
        vigia_devcluster.load_images(name, support.E2E_IMAGES)
        yield cluster.kubeconfig
    finally:
        vigia_devcluster.down(name)


@pytest.fixture(scope="session")
def local_node(kubeconfig: Path) -> None:
    """Tests of this machine's own real node (its network), not of any cluster."""
    from vigia_devcluster import nodenet

    if os.environ.get("KUBECONFIG") and not nodenet.exists():
        pytest.skip("checks the local cluster's real node; KUBECONFIG names another cluster")


@pytest.fixture(scope="session")
def local_cluster(kubeconfig: Path) -> str:
    """The name of the session's own local cluster (its real node takes images by name)."""
    if os.environ.get("KUBECONFIG"):
        pytest.skip("the session runs against another cluster (KUBECONFIG)")
    import vigia_devcluster

    return vigia_devcluster.session_name(os.getpid(), "node")


@pytest.fixture(scope="session")
def metrics_api(kubeconfig: Path) -> None:
    """The resource metrics API (metrics.k8s.io) that a CPU-target autoscaler reads: the
    cluster's own when it serves one; on the session's local cluster, metrics-server built
    from its Go module and installed (vigia_testbed.metrics_server), its image built and
    imported here only, not with the E2E_IMAGES every session loads."""
    if metrics_server.served(kubeconfig):
        return
    if os.environ.get("KUBECONFIG"):
        pytest.skip(f"{kubeconfig} does not serve {metrics_server.API_SERVICE}: install "
                    "metrics-server there (kind: its release manifest with "
                    "--kubelet-insecure-tls), or run on the local real node")
    import vigia_devcluster

    metrics_server.provide_on_local_cluster(
        kubeconfig, vigia_devcluster.session_name(os.getpid(), "node"))
