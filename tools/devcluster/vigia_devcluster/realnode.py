"""Start and stop the real node: containerd, kubelet and kube-proxy in the node's network
namespace (nodenet), with the images of the node loaded into containerd.

Only one real node runs per machine (one network namespace, fixed address ranges).
Teardown order (leaves nothing behind): pods through the API, kubelet and kube-proxy,
the containers' tasks, containerd and its shims (by pid), processes left in the kubepods
cgroups, mounts under the state directory, the network namespace, the guard, cgroups.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from vigia_devcluster import binaries, nodeconfig, nodenet, processes
from vigia_devcluster.layout import Proc
from vigia_devcluster.nodeconfig import NodePaths

CGROUP_ROOT = Path("/sys/fs/cgroup")
KUBEPODS = "kubepods"
NODE_PROCS = ("containerd", "kubelet", "kube-proxy")


class NodeError(RuntimeError):
    """The real node could not be started."""


def ctr(paths: NodePaths, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ctr", f"--address={paths.containerd_socket}", "--namespace=k8s.io", *args],
        capture_output=True, text=True, check=False, timeout=timeout,
    )


def start_containerd(paths: NodePaths, log: Path, sandbox_image: str) -> Proc:
    for directory in (paths.containerd_root, paths.containerd_state, paths.cni_conf_dir,
                      paths.cni_ipam_dir, paths.kubelet_root, paths.pod_logs, paths.volumes):
        directory.mkdir(parents=True, exist_ok=True)
    paths.containerd_config.write_text(
        nodeconfig.build_containerd_config(paths, sandbox_image))
    (paths.cni_conf_dir / "10-vigia.conflist").write_text(nodeconfig.build_cni_conflist(paths))
    argv = nodenet.in_node("containerd", f"--config={paths.containerd_config}")
    return processes.start("containerd", Path("/usr/bin/nsenter"), argv, log)


def containerd_ready(paths: NodePaths) -> bool:
    return paths.containerd_socket.exists() and ctr(paths, "version", timeout=10).returncode == 0


def import_images(paths: NodePaths, archives: list[Path]) -> None:
    """Import each archive into the node's containerd, once: an archive's name carries the
    hash of its inputs, and the node's containerd keeps what it imported for its life."""
    record = paths.containerd_root.parent / "imported"
    done = set(record.read_text().split()) if record.exists() else set()
    for archive in archives:
        if archive.name in done:
            continue
        result = ctr(paths, "images", "import", "--no-unpack=false", str(archive))
        if result.returncode != 0:
            raise NodeError(f"ctr images import {archive.name}: {result.stderr.strip()}")
        with record.open("a") as out:
            out.write(archive.name + "\n")


def start_kubelet(paths: NodePaths, kubeconfig: Path, log: Path) -> Proc:
    binary = binaries.path_of("kubelet")
    argv = nodeconfig.build_kubelet_args(paths, kubeconfig)
    return processes.start("kubelet", Path("/usr/bin/nsenter"),
                           nodenet.in_node(str(binary), *argv[1:]), log)


def start_kube_proxy(paths: NodePaths, log: Path) -> Proc:
    binary = binaries.path_of("kube-proxy")
    argv = nodeconfig.build_kube_proxy_args(paths)
    return processes.start("kube-proxy", Path("/usr/bin/nsenter"),
                           nodenet.in_node(str(binary), *argv[1:]), log)


def drain(kubectl: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    """Cordon the node and delete its pods through the API, so the kubelet stops their
    sandboxes (and CNI releases their network) before it is stopped itself."""
    node = nodeconfig.NODE_NAME
    if kubectl("cordon", node).returncode != 0:
        return
    kubectl("delete", "pods", "--all-namespaces", f"--field-selector=spec.nodeName={node}",
            "--grace-period=2", "--timeout=40s", "--wait=true")


def stop(paths: NodePaths, procs: list[Proc]) -> None:
    """Stop the node's processes (kubelet and kube-proxy first), every container, containerd
    and its shims; then unmount, remove the network namespace and the cgroups left behind."""
    by_name = {proc.name: proc for proc in procs}
    for name in ("kubelet", "kube-proxy"):
        if name in by_name:
            processes.stop(by_name[name])
    if "containerd" in by_name and processes.is_running(by_name["containerd"]):
        _kill_tasks(paths)
        processes.stop(by_name["containerd"])
    _kill_shims(paths)
    _kill_kubepods()
    unmount_under(paths.root)
    nodenet.remove()
    _remove_kubepods_cgroups()


def _kill_tasks(paths: NodePaths) -> None:
    listed = ctr(paths, "tasks", "ls", "-q", timeout=30)
    for task in listed.stdout.split():
        ctr(paths, "tasks", "kill", "--signal=SIGKILL", task, timeout=30)
    deadline = time.monotonic() + 10
    for task in listed.stdout.split():
        while time.monotonic() < deadline and ctr(
                paths, "tasks", "delete", task, timeout=30).returncode != 0:
            time.sleep(0.2)


def _shim_pids(paths: NodePaths) -> list[int]:
    """containerd-shim processes serving our containerd (named by its socket)."""
    socket = str(paths.containerd_socket)
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and b"containerd-shim" in argv[0] and socket.encode() in argv:
            pids.append(int(entry.name))
    return pids


def _kill_shims(paths: NodePaths) -> None:
    for pid in _shim_pids(paths):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _kubepods_dirs() -> list[Path]:
    """Every kubepods cgroup, deepest first (only this node's kubelet makes them)."""
    found: list[Path] = []
    if not CGROUP_ROOT.exists():
        return found
    for hierarchy in CGROUP_ROOT.iterdir():
        top = hierarchy / KUBEPODS
        if top.is_dir():
            found += [Path(d) for d, _, _ in os.walk(top)]
    return sorted(found, key=lambda p: len(p.parts), reverse=True)


def _kill_kubepods() -> None:
    """Containers whose shim is gone keep running: kill what is left in the pods' cgroups."""
    for directory in _kubepods_dirs():
        with contextlib.suppress(OSError):
            for pid in (directory / "cgroup.procs").read_text().split():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), signal.SIGKILL)


def _remove_kubepods_cgroups() -> None:
    deadline = time.monotonic() + 10
    for directory in _kubepods_dirs():
        while directory.exists() and time.monotonic() < deadline:
            try:
                directory.rmdir()
            except OSError:
                time.sleep(0.1)


def mounts_under(root: Path) -> list[str]:
    prefix = str(root.resolve()) + "/"
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        target = line.split()[4].replace("\\040", " ")
        if target.startswith(prefix) or target == prefix.rstrip("/"):
            found.append(target)
    return found


def unmount_under(root: Path) -> None:
    """Lazily unmount everything mounted under root (volumes, rootfs, the kubelet's own),
    deepest first."""
    if not root.exists():
        return
    for _ in range(5):
        targets = sorted(set(mounts_under(root)), key=len, reverse=True)
        if not targets:
            return
        for target in targets:
            subprocess.run(["umount", "-l", target], capture_output=True, check=False)


def remove_state(root: Path) -> None:
    unmount_under(root)
    shutil.rmtree(root, ignore_errors=True)
