"""The real node's network: a network namespace of its own, joined to the host by one veth.

    host netns                         node netns "vigia-node" (no default route)
    vigia-h 10.250.0.1/30  <--veth-->  vigia-n 10.250.0.2/30 (the node IP)
    apiserver binds 10.250.0.1         containerd, kubelet, kube-proxy; cni0 10.245.0.1/24
    routes: pods, Services -> vigia-n  pods 10.245.0.0/24, routes only to Services and 10.250.0.0/30

Nothing in the node's namespace has a way out: it has no default route and no other
interface. On the host, the pod and Service ranges route into the veth, and a guard chain in
the mangle table drops anything from or to those ranges that would still leave through the
machine's outside interface.
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
from pathlib import Path

NETNS = "vigia-node"
NETNS_PATH = Path("/run/netns") / NETNS
HOST_IF = "vigia-h"
NODE_IF = "vigia-n"
LINK_CIDR = "10.250.0.0/30"
HOST_IP = "10.250.0.1"  # the apiserver binds and advertises it
NODE_IP = "10.250.0.2"
POD_CIDR = "10.245.0.0/24"  # real pods (kwok's fake pods use 10.244.0.0/16)
POD_GATEWAY = "10.245.0.1"
SERVICE_CIDR = "10.96.0.0/16"
FAKE_POD_CIDR = "10.244.0.0/16"
# Every range that must never leave through the outside interface.
GUARDED_CIDRS = (POD_CIDR, SERVICE_CIDR, FAKE_POD_CIDR, LINK_CIDR)
# Routed into the node's namespace from the host (the fake range ends there, unrouted).
HOST_ROUTES = (POD_CIDR, SERVICE_CIDR, FAKE_POD_CIDR)
GUARD_CHAIN = "VIGIA-GUARD"
NODE_SYSCTLS = {
    "net.ipv4.ip_forward": "1",
    "net.bridge.bridge-nf-call-iptables": "1",
}


class NetworkError(RuntimeError):
    """The node's network could not be set up."""


def _run(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=30)
    if check and result.returncode != 0:
        raise NetworkError(f"{' '.join(argv)}: {result.stderr.strip() or result.returncode}")
    return result


def in_node(*argv: str) -> list[str]:
    """argv run inside the node's network namespace (and nothing else of it changed)."""
    return ["nsenter", f"--net={NETNS_PATH}", "--", *argv]


def exists() -> bool:
    return NETNS_PATH.exists()


def outside_interfaces() -> set[str]:
    """Interfaces of the host's default routes: the way off this machine."""
    routes = json.loads(_run("ip", "-j", "route", "show", "default").stdout or "[]")
    return {route["dev"] for route in routes if "dev" in route}


def route_device(address: str, *, node: bool = False) -> str | None:
    """The interface the kernel would send `address` through (None: unreachable)."""
    argv = ["ip", "-j", "route", "get", address]
    result = _run(*(in_node(*argv) if node else argv), check=False)
    if result.returncode != 0:
        return None
    routes = json.loads(result.stdout or "[]")
    return str(routes[0].get("dev")) if routes else None


def sample_addresses(cidr: str) -> list[str]:
    network = ipaddress.ip_network(cidr)
    return [str(network.network_address + 1), str(network.broadcast_address - 1)]


def create() -> None:
    """The namespace, the veth, addresses, routes, sysctls and the guard (idempotent only
    from a clean state: call remove() first)."""
    _run("ip", "netns", "add", NETNS)
    _run("ip", "link", "add", HOST_IF, "type", "veth", "peer", "name", NODE_IF, "netns", NETNS)
    _run("ip", "addr", "add", f"{HOST_IP}/30", "dev", HOST_IF)
    _run("ip", "link", "set", HOST_IF, "up")
    _run(*in_node("ip", "addr", "add", f"{NODE_IP}/30", "dev", NODE_IF))
    _run(*in_node("ip", "link", "set", NODE_IF, "up"))
    _run(*in_node("ip", "link", "set", "lo", "up"))
    for cidr in HOST_ROUTES:
        _run("ip", "route", "add", cidr, "via", NODE_IP, "dev", HOST_IF)
    for key, value in NODE_SYSCTLS.items():
        _run(*in_node("sysctl", "-qw", f"{key}={value}"))
    install_guard()


def install_guard() -> None:
    """mangle POSTROUTING -> VIGIA-GUARD: drop the guarded ranges on the outside interfaces.
    (kube-proxy owns the top of filter FORWARD, and it runs in the node's namespace anyway.)"""
    remove_guard()
    _run("iptables", "-w", "-t", "mangle", "-N", GUARD_CHAIN)
    for device in sorted(outside_interfaces()):
        for cidr in GUARDED_CIDRS:
            for direction in ("-s", "-d"):
                _run("iptables", "-w", "-t", "mangle", "-A", GUARD_CHAIN, "-o", device,
                     direction, cidr, "-j", "DROP")
    _run("iptables", "-w", "-t", "mangle", "-I", "POSTROUTING", "-j", GUARD_CHAIN)


def guard_rules() -> list[str]:
    result = _run("iptables", "-w", "-t", "mangle", "-S", GUARD_CHAIN, check=False)
    return result.stdout.splitlines() if result.returncode == 0 else []


def remove_guard() -> None:
    while _run("iptables", "-w", "-t", "mangle", "-D", "POSTROUTING", "-j", GUARD_CHAIN,
               check=False).returncode == 0:
        pass
    _run("iptables", "-w", "-t", "mangle", "-F", GUARD_CHAIN, check=False)
    _run("iptables", "-w", "-t", "mangle", "-X", GUARD_CHAIN, check=False)


def remove() -> None:
    """Delete the namespace (its veth end, cni0 and kube-proxy's rules go with it; the host
    end and its routes follow the veth) and the guard."""
    if exists():
        _run("ip", "netns", "delete", NETNS, check=False)
    _run("ip", "link", "delete", HOST_IF, check=False)
    remove_guard()
