"""up / down / status of a local control plane: the only module that starts processes."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from vigia_devcluster import (
    binaries,
    components,
    health,
    images,
    nodeconfig,
    nodenet,
    pki,
    processes,
    realnode,
)
from vigia_devcluster.layout import (
    HOST,
    Layout,
    Proc,
    State,
    default_state_root,
    pick_ports,
    validate_name,
)
from vigia_devcluster.manifests import build_fake_node, build_kubeconfig

DEFAULT_NAME = "default"
DEFAULT_NODES = 2
SESSION_PREFIX = "pytest-"
APISERVER_HOSTS = (
    HOST, nodenet.HOST_IP, "localhost", "10.96.0.1", "kubernetes", "kubernetes.default",
    "kubernetes.default.svc", "kubernetes.default.svc.cluster.local",
)
# name -> (common name, organizations) of the client certificates written as kubeconfigs
CLIENTS = {
    "admin": ("vigia-admin", ("system:masters",)),
    "kube-controller-manager": ("system:kube-controller-manager", ()),
    "kube-scheduler": ("system:kube-scheduler", ()),
    "kwok": ("kwok-controller", ("system:masters",)),
}
NODE_CLIENTS = {
    "kubelet": (f"system:node:{nodeconfig.NODE_NAME}", ("system:nodes",)),
    "kube-proxy": ("system:kube-proxy", ()),
}
# Images the real node needs to start (pause) and serve DNS (coredns); debian for tools pods.
NODE_IMAGES = ["pause", "coredns", "debian"]
ADDONS = Path(__file__).resolve().parents[1] / "addons"
# hostPath volume -> uid of its writer (the PostgreSQL image's user; the project image's)
VOLUME_OWNERS = {"postgresql": images.POSTGRES_UID, "bundles": 10001}


class ClusterError(RuntimeError):
    """The cluster could not be started or reached."""


@dataclass(frozen=True)
class Cluster:
    name: str
    root: Path
    kubeconfig: Path
    server: str
    started: bool  # False when an already healthy cluster was reused


def up(
    name: str = DEFAULT_NAME,
    *,
    nodes: int = DEFAULT_NODES,
    state_root: Path | None = None,
    timeout: float = 180.0,
    real_node: bool = False,
) -> Cluster:
    """Start the cluster, or reuse it when it is already up and healthy (and has a real
    node when one is asked for). With real_node, a kubelet node running containers joins
    (one per machine) and the fake nodes are tainted."""
    if nodes < 0:
        raise ValueError(f"nodes: must be >= 0, got {nodes}")
    layout = _layout(name, state_root)
    with _locked(layout):
        state = _load(layout)
        if state is not None and _healthy(layout, state) and (state.real_node or not real_node):
            return _cluster(layout, state, started=False)
        _teardown(layout, state)
        binaries.ensure_built(("vigia-kube", "kwok"))
        archives = images.ensure(NODE_IMAGES) if real_node else {}
        if real_node:
            _claim_node(layout)
        state = State(name=name, ports=pick_ports(), real_node=real_node,
                      api_host=nodenet.HOST_IP if real_node else HOST)
        try:
            _start(layout, state, nodes, timeout, list(archives.values()))
        except Exception as error:
            _teardown(layout, state)
            raise ClusterError(f"cluster {name!r} did not come up: {error}") from error
        return _cluster(layout, state, started=True)


def down(name: str = DEFAULT_NAME, *, state_root: Path | None = None) -> bool:
    """Stop exactly the processes this cluster started and delete its state.
    Returns False when there was nothing to stop."""
    layout = _layout(name, state_root)
    with _locked(layout):
        existed = layout.root.exists()
        _teardown(layout, _load(layout))
        return existed


def status(name: str = DEFAULT_NAME, *, state_root: Path | None = None) -> dict[str, object]:
    layout = _layout(name, state_root)
    state = _load(layout)
    if state is None:
        return {"name": name, "exists": False}
    return {
        "name": name,
        "exists": True,
        "healthy": _healthy(layout, state),
        "kubeconfig": str(layout.admin_kubeconfig),
        "server": _server(state),
        "processes": {p.name: {"pid": p.pid, "running": processes.is_running(p)}
                      for p in state.procs},
        "nodes": state.nodes,
    }


def session_name(pid: int, suffix: str = "") -> str:
    """Name of a cluster private to the test session of process `pid` (a suffix tells
    apart several clusters of one session, e.g. "node")."""
    return f"{SESSION_PREFIX}{pid}" + (f"-{suffix}" if suffix else "")


def load_images(name: str = DEFAULT_NAME, names: list[str] | None = None, *,
                state_root: Path | None = None) -> dict[str, Path]:
    """Build (when not cached) and import images into the cluster's real node; returns
    name -> archive."""
    layout = _layout(name, state_root)
    state = _load(layout)
    if state is None or not state.real_node:
        raise ClusterError(f"cluster {name!r} has no real node; start it with --real-node")
    archives = images.ensure(names)
    realnode.import_images(nodeconfig.NodePaths(layout.node), list(archives.values()))
    return archives


def down_orphaned_sessions(*, state_root: Path | None = None) -> list[str]:
    """Stop the private clusters of test sessions whose process is gone (killed sessions),
    and drop those sessions' lock files."""
    root = state_root or default_state_root()
    stopped = []
    for path in sorted(root.glob(f"{SESSION_PREFIX}*")):
        if path.is_dir() and not _session_alive(path.name):
            down(path.name, state_root=root)
            stopped.append(path.name)
    for lock in root.glob(f".{SESSION_PREFIX}*.lock"):
        name = lock.name.removeprefix(".").removesuffix(".lock")
        if not (root / name).exists() and not _session_alive(name):
            lock.unlink(missing_ok=True)
    return stopped


def _session_alive(name: str) -> bool:
    pid = name.removeprefix(SESSION_PREFIX).split("-")[0]
    return not pid.isdigit() or Path(f"/proc/{pid}").exists()


def _layout(name: str, state_root: Path | None) -> Layout:
    return Layout((state_root or default_state_root()) / validate_name(name))


def _cluster(layout: Layout, state: State, *, started: bool) -> Cluster:
    return Cluster(state.name, layout.root, layout.admin_kubeconfig, _server(state), started)


def _server(state: State) -> str:
    return f"https://{state.api_host}:{state.ports.apiserver}"


@contextlib.contextmanager
def _locked(layout: Layout) -> Iterator[None]:
    """One launcher at a time per cluster (parallel test sessions share it)."""
    layout.root.parent.mkdir(parents=True, exist_ok=True)
    with (layout.root.parent / f".{layout.root.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _load(layout: Layout) -> State | None:
    try:
        return State.from_json(layout.state_file.read_text())
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _save(layout: Layout, state: State) -> None:
    layout.state_file.write_text(state.to_json())


def _healthy(layout: Layout, state: State) -> bool:
    if not state.complete or not all(processes.is_running(p) for p in state.procs):
        return False
    context = health.tls_context(layout.crt("ca"), layout.crt("admin"), layout.key("admin"))
    return health.https_ok(state.api_host, state.ports.apiserver, "/readyz", context)


def _claim_node(layout: Layout) -> None:
    """The real node is one per machine: refuse when another live cluster has it; clean up
    what a dead one left behind."""
    for other in layout.root.parent.glob("*/state.json"):
        other_layout = Layout(other.parent)
        state = _load(other_layout)
        if (other_layout.root != layout.root and state is not None and state.real_node
                and any(processes.is_running(p) for p in state.procs)):
            raise ClusterError(
                f"the real node is in use by cluster {state.name!r} ({other.parent}); "
                f"stop it first: python3 -m vigia_devcluster down --name {state.name}")
    realnode.stop(nodeconfig.NodePaths(layout.node), [])


def _teardown(layout: Layout, state: State | None) -> None:
    if state is not None:
        node_procs = [p for p in state.procs if p.name in realnode.NODE_PROCS]
        if state.real_node:
            if _healthy_api(layout, state):
                realnode.drain(lambda *args: _kubectl(layout, *args))
            realnode.stop(nodeconfig.NodePaths(layout.node), node_procs)
        for proc in reversed(state.procs):
            if proc not in node_procs:
                processes.stop(proc)
    realnode.remove_state(layout.root)


def _healthy_api(layout: Layout, state: State) -> bool:
    if not layout.crt("admin").exists():
        return False
    context = health.tls_context(layout.crt("ca"), layout.crt("admin"), layout.key("admin"))
    return health.https_ok(state.api_host, state.ports.apiserver, "/readyz", context)


def _start(
    layout: Layout, state: State, nodes: int, timeout: float, node_images: list[Path]
) -> None:
    layout.root.mkdir(parents=True, exist_ok=True)
    if state.real_node:
        nodenet.create()
    _write_pki(layout, state)
    _save(layout, state)
    deadline = time.monotonic() + timeout
    ports = state.ports
    ca = layout.crt("ca")

    def remaining() -> float:
        return max(1.0, deadline - time.monotonic())

    def launch(binary: str, argv: list[str], probe: Callable[[], bool]) -> None:
        component = argv[0]
        proc = processes.start(component, binaries.path_of(binary), argv, layout.log(component))
        state.procs.append(proc)
        _save(layout, state)
        health.poll(probe, remaining(), f"{component} health", alive=_died(proc, layout))

    etcd_tls = health.tls_context(ca, layout.crt("apiserver-etcd-client"),
                                  layout.key("apiserver-etcd-client"))
    launch("etcd", components.build_etcd_args(layout, ports),
           lambda: health.https_ok(HOST, ports.etcd_client, "/health", etcd_tls))
    admin_tls = health.tls_context(ca, layout.crt("admin"), layout.key("admin"))
    node_link = nodenet.HOST_IP if state.real_node else None
    launch("kube-apiserver", components.build_apiserver_args(layout, ports, node_link),
           lambda: health.https_ok(state.api_host, ports.apiserver, "/readyz", admin_tls))
    unverified = health.tls_context(None)
    launch("kube-controller-manager", components.build_controller_manager_args(layout, ports),
           lambda: health.https_ok(HOST, ports.controller_manager, "/healthz", unverified))
    launch("kube-scheduler", components.build_scheduler_args(layout, ports),
           lambda: health.https_ok(HOST, ports.scheduler, "/healthz", unverified))
    kwok_config = layout.root / "kwok.yaml"
    kwok_config.write_text(components.KWOK_CONFIG)
    launch("kwok", components.build_kwok_args(layout, kwok_config), lambda: True)
    state.nodes = [f"kwok-node-{index}" for index in range(nodes)]
    _save(layout, state)
    taints = [components.FAKE_NODE_TAINT] if state.real_node else None
    _create_nodes(layout, state.nodes, remaining, taints)
    # Pods are refused until the namespace's default ServiceAccount exists.
    health.poll(lambda: _kubectl_ok(layout, "get", "serviceaccount", "default"),
                remaining(), "default ServiceAccount")
    if state.real_node:
        _start_real_node(layout, state, node_images, remaining)
    state.complete = True
    _save(layout, state)


def _start_real_node(
    layout: Layout, state: State, archives: list[Path], remaining: Callable[[], float]
) -> None:
    paths = nodeconfig.NodePaths(layout.node)

    def record(proc: Proc) -> Proc:
        state.procs.append(proc)
        _save(layout, state)
        return proc

    pause = images.references()["pause"]
    containerd = record(realnode.start_containerd(paths, layout.log("containerd"), pause))
    health.poll(lambda: realnode.containerd_ready(paths), remaining(), "containerd",
                alive=_died(containerd, layout))
    realnode.import_images(paths, archives)
    paths.kubelet_config.write_text(nodeconfig.build_kubelet_config(
        paths, layout.crt("ca"), layout.crt("kubelet-serving"), layout.key("kubelet-serving")))
    kubelet = record(realnode.start_kubelet(paths, layout.kubeconfig("kubelet"),
                                            layout.log("kubelet")))
    node = nodeconfig.NODE_NAME
    health.poll(lambda: _kubectl_ok(layout, "wait", "--for=condition=Ready", "--timeout=2s",
                                    f"node/{node}"),
                remaining(), "real node Ready", alive=_died(kubelet, layout))
    paths.kube_proxy_config.write_text(
        nodeconfig.build_kube_proxy_config(layout.kubeconfig("kube-proxy")))
    record(realnode.start_kube_proxy(paths, layout.log("kube-proxy")))
    _make_volumes(paths)
    _apply_addon(layout, "volumes.yaml", {"VOLUMES": str(paths.volumes)})
    _apply_addon(layout, "coredns.yaml")
    health.poll(lambda: _kubectl_ok(layout, "-n", "kube-system", "rollout", "status",
                                    "deployment/coredns", "--timeout=2s"),
                remaining(), "CoreDNS available", alive=_died(kubelet, layout))


def _make_volumes(paths: nodeconfig.NodePaths) -> None:
    """The hostPath volumes' directories, owned by the uid of the pods that write them
    (fsGroup does not apply to hostPath)."""
    for volume, uid in VOLUME_OWNERS.items():
        directory = paths.volumes / volume
        directory.mkdir(parents=True, exist_ok=True)
        os.chown(directory, uid, uid)


def _apply_addon(layout: Layout, name: str, values: dict[str, str] | None = None) -> None:
    text = (ADDONS / name).read_text()
    substitutions = {f"{image.upper()}_IMAGE": ref for image, ref in images.references().items()}
    for key, value in {**substitutions, **(values or {})}.items():
        text = text.replace(f"${{{key}}}", value)
    result = _kubectl(layout, "apply", "-f", "-", stdin=text)
    if result.returncode != 0:
        raise ClusterError(f"applying {name} failed: {result.stderr.strip()}")


def _died(proc: Proc, layout: Layout) -> Callable[[], str | None]:
    def check() -> str | None:
        if processes.is_running(proc):
            return None
        tail = layout.log(proc.name).read_text(errors="replace").splitlines()[-15:]
        return "process exited; its log ends with:\n" + "\n".join(tail)

    return check


def _write_pki(layout: Layout, state: State) -> None:
    ca = pki.build_ca("vigia-devcluster-ca")
    pki.write_pair(ca, layout.pki, "ca")
    leaves = {
        "etcd-server": pki.build_cert(ca, "etcd", hosts=(HOST, "localhost"), server=True),
        "apiserver-etcd-client": pki.build_cert(ca, "kube-apiserver-etcd-client"),
        "apiserver": pki.build_cert(ca, "kube-apiserver", hosts=APISERVER_HOSTS, server=True,
                                    client=False),
        "apiserver-kubelet-client": pki.build_cert(
            ca, "kube-apiserver-kubelet-client", organizations=("system:masters",)),
    }
    front_proxy = pki.build_ca("vigia-devcluster-front-proxy-ca")
    pki.write_pair(front_proxy, layout.pki, "front-proxy-ca")
    leaves["front-proxy-client"] = pki.build_cert(front_proxy, "front-proxy-client")
    clients = {**CLIENTS, **(NODE_CLIENTS if state.real_node else {})}
    for client, (common_name, organizations) in clients.items():
        leaves[client] = pki.build_cert(ca, common_name, organizations=organizations)
    if state.real_node:
        leaves["kubelet-serving"] = pki.build_cert(
            ca, nodeconfig.NODE_NAME, hosts=(nodeconfig.NODE_NAME, nodenet.NODE_IP),
            server=True, client=False)
    for name, pair in leaves.items():
        pki.write_pair(pair, layout.pki, name)
    service_accounts = pki.new_key()
    layout.key("sa").write_bytes(pki.private_key_pem(service_accounts))
    layout.crt("sa").with_suffix(".pub").write_bytes(pki.public_key_pem(service_accounts))
    server = _server(state)
    for client in clients:
        path = layout.admin_kubeconfig if client == "admin" else layout.kubeconfig(client)
        path.parent.mkdir(parents=True, exist_ok=True)
        document = build_kubeconfig(server, ca.cert_pem(), client, leaves[client])
        path.touch(mode=0o600)
        path.write_text(yaml.safe_dump(document, sort_keys=False))


def _kubectl(
    layout: Layout, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(binaries.path_of("kubectl")), f"--kubeconfig={layout.admin_kubeconfig}", *args],
        input=stdin, capture_output=True, text=True, check=False, timeout=60,
    )


def _kubectl_ok(layout: Layout, *args: str) -> bool:
    return _kubectl(layout, *args).returncode == 0


def _create_nodes(layout: Layout, names: list[str], remaining: Callable[[], float],
                  taints: list[dict[str, str]] | None = None) -> None:
    if not names:
        return
    node_list = {"apiVersion": "v1", "kind": "List",
                 "items": [build_fake_node(n, components.FAKE_NODE_ANNOTATION, taints)
                           for n in names]}
    result = _kubectl(layout, "apply", "-f", "-", stdin=json.dumps(node_list))
    if result.returncode != 0:
        raise ClusterError(f"creating fake nodes failed: {result.stderr.strip()}")
    health.poll(
        lambda: _kubectl_ok(layout, "wait", "--for=condition=Ready", "--timeout=5s",
                            *(f"node/{n}" for n in names)),
        remaining(), "fake nodes Ready", interval=0.5,
    )
