"""The launcher reuses a healthy cluster and `down` stops exactly what `up` started."""

from __future__ import annotations

from pathlib import Path

import pytest
from vigia_devcluster import down, up
from vigia_devcluster.layout import State
from vigia_devcluster.processes import is_running
from vigia_testbed.kube import kubectl

pytestmark = pytest.mark.integration


def test_up_twice_reuses_the_cluster_and_down_stops_its_processes(tmp_path: Path) -> None:
    root = tmp_path / "clusters"
    first = up("lifecycle", nodes=1, state_root=root)
    try:
        state = State.from_json((first.root / "state.json").read_text())
        second = up("lifecycle", nodes=1, state_root=root)
        nodes = kubectl(first.kubeconfig, "get", "nodes", "-o", "name").split()
    finally:
        stopped = down("lifecycle", state_root=root)

    assert first.started
    assert not second.started
    assert second.server == first.server
    assert nodes == ["node/kwok-node-0"]
    assert [proc.name for proc in state.procs] == [
        "etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"]
    assert stopped
    assert not any(is_running(proc) for proc in state.procs)
    assert not first.root.exists()
    assert down("lifecycle", state_root=root) is False
