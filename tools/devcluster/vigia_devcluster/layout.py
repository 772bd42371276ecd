"""Where a cluster keeps its state, which ports it uses, and which processes it started."""

from __future__ import annotations

import json
import os
import random
import re
import socket
from dataclasses import asdict, dataclass, field
from pathlib import Path

from vigia_devcluster.binaries import cache_root

HOST = "127.0.0.1"
_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$")


@dataclass(frozen=True)
class Ports:
    etcd_client: int
    etcd_peer: int
    apiserver: int
    controller_manager: int
    scheduler: int


@dataclass(frozen=True)
class Proc:
    """A started process: its pid plus its start time, so a reused pid is not mistaken for it."""

    name: str
    pid: int
    start_ticks: int


@dataclass
class State:
    name: str
    ports: Ports
    nodes: list[str] = field(default_factory=list)
    procs: list[Proc] = field(default_factory=list)
    complete: bool = False  # set once `up` has finished; an interrupted `up` is never reused
    real_node: bool = False  # a kubelet node with containerd (nodenet, realnode)
    api_host: str = HOST  # the apiserver's address (the node link's host end with a real node)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> State:
        data = json.loads(text)
        return cls(
            name=data["name"],
            ports=Ports(**data["ports"]),
            nodes=list(data.get("nodes", [])),
            procs=[Proc(**proc) for proc in data.get("procs", [])],
            complete=bool(data.get("complete", False)),
            real_node=bool(data.get("real_node", False)),
            api_host=str(data.get("api_host", HOST)),
        )


def validate_name(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(
            f"cluster name {name!r}: use 1-40 lowercase letters, digits and '-' "
            "(not at either end)"
        )
    return name


def default_state_root() -> Path:
    override = os.environ.get("VIGIA_DEVCLUSTER_HOME")
    return Path(override) if override else cache_root() / "devcluster"


@dataclass(frozen=True)
class Layout:
    """Every path of one cluster, derived from its state directory."""

    root: Path

    @property
    def state_file(self) -> Path:
        return self.root / "state.json"

    @property
    def pki(self) -> Path:
        return self.root / "pki"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def etcd_data(self) -> Path:
        return self.root / "etcd"

    @property
    def admin_kubeconfig(self) -> Path:
        return self.root / "kubeconfig"

    def kubeconfig(self, component: str) -> Path:
        return self.root / "kubeconfigs" / f"{component}.kubeconfig"

    def cert_dir(self, component: str) -> Path:
        """Scratch certificate directory of a component (else it writes to /var/run)."""
        return self.root / "certs" / component

    def crt(self, name: str) -> Path:
        return self.pki / f"{name}.crt"

    def key(self, name: str) -> Path:
        return self.pki / f"{name}.key"

    def log(self, component: str) -> Path:
        return self.logs / f"{component}.log"

    @property
    def node(self) -> Path:
        """The real node's state (containerd, kubelet, CNI, volumes)."""
        return self.root / "node"


# Listening ports come from below the kernel's ephemeral range, which outgoing connections
# draw their source ports from: a port picked here and bound seconds later (a server starting
# on a loaded machine, with other test sessions connecting all the while) cannot have become
# some connection's source port meanwhile.
_PORTS = random.SystemRandom()  # not the random module: a test may seed that


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now, outside the ephemeral range."""
    low = _ephemeral_low()
    for _ in range(100):
        port = _PORTS.randrange(10000, low) if low > 11000 else 0
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((HOST, port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise OSError("no free port on 127.0.0.1")


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def pick_ports() -> Ports:
    ports: set[int] = set()
    while len(ports) < 5:
        ports.add(free_port())
    etcd_client, etcd_peer, apiserver, controller_manager, scheduler = sorted(ports)
    return Ports(etcd_client, etcd_peer, apiserver, controller_manager, scheduler)
