"""Nothing of the local cluster's pod and Service traffic can leave the machine: the ranges
route into the node's own network namespace, which has no default route, and a guard chain
drops them on the outside interface. (`ip route get` only asks the kernel; it sends nothing.)"""

from __future__ import annotations

from pathlib import Path

import pytest
from vigia_devcluster import nodenet

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("cidr", nodenet.GUARDED_CIDRS)
def test_no_route_to_the_cluster_ranges_leaves_through_the_outside_interface(
    local_node: None, cidr: str
) -> None:
    outside = nodenet.outside_interfaces()
    assert outside, "the machine has no default route: nothing to guard against"
    for address in nodenet.sample_addresses(cidr):
        host_device = nodenet.route_device(address)
        assert host_device not in outside, f"{address} ({cidr}) would leave via {host_device}"
        node_device = nodenet.route_device(address, node=True)
        assert node_device not in outside


def test_the_node_namespace_has_no_way_out(local_node: None) -> None:
    for outside_address in ("192.0.2.1", "198.51.100.1", "203.0.113.1"):  # TEST-NETs
        assert nodenet.route_device(outside_address, node=True) is None


def test_the_guard_drops_the_ranges_on_every_outside_interface(local_node: None) -> None:
    rules = nodenet.guard_rules()
    for device in nodenet.outside_interfaces():
        for cidr in nodenet.GUARDED_CIDRS:
            for direction in ("-s", "-d"):
                assert any(f"-o {device}" in rule and f"{direction} {cidr}" in rule
                           and rule.endswith("-j DROP") for rule in rules), (device, cidr)
    assert Path("/run/netns", nodenet.NETNS).exists()
