"""A real Gateway API implementation honours an HTTPRoute's backend weights.

Traefik (tools/gateway/build.sh, built on first use) runs as a local process whose Gateway
provider watches the test's namespace through a ServiceAccount token. The route's two
Services have EndpointSlices naming two TEST-NET-1 addresses, which Traefik reaches through a
SOCKS5 relay on loopback that connects each to one of two HTTP servers with different answers
(see vigia_testbed.gateway). The requests go through Traefik's entrypoint over one
keep-alive connection. The router GatewayAPI's canary weight is such a backend weight.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest
from vigia_testbed import gateway as gw
from vigia_testbed.kube import kubectl, wait_for

pytestmark = pytest.mark.integration

REQUESTS = 2000
TOLERANCE = 0.03  # of the share, either way
SERVICE_PORT = 80
STABLE, CANARY = "stable", "canary"
ADDRESSES = {STABLE: "192.0.2.10", CANARY: "192.0.2.20"}  # TEST-NET-1: only via the proxy
ROUTE = "split"


@dataclass
class Split:
    traefik: gw.Traefik
    relayed: dict[str, int]  # backend connections Traefik opened, per EndpointSlice address


@pytest.fixture
def split(gateway_implementation_crds: Path, namespace: str, tmp_path: Path) -> Iterator[Split]:
    """Traefik serving a Gateway of its own GatewayClass in ``namespace``, whose Services
    ``stable`` and ``canary`` lead to servers answering their own name."""
    kubeconfig = gateway_implementation_crds
    name = namespace  # unique: names the cluster-scoped RBAC and GatewayClass too
    relayed: dict[str, int] = {}
    with ExitStack() as stack:
        stack.callback(_delete_cluster_scoped, kubeconfig, name)
        for track in (STABLE, CANARY):
            port = stack.enter_context(gw.answering_server(track))
            gw.apply_all(kubeconfig, namespace, gw.service_with_endpoint(
                track, SERVICE_PORT, ADDRESSES[track], port))
        relay = stack.enter_context(gw.socks_relay(relayed))
        gw.apply_all(kubeconfig, namespace, gw.controller_rbac(name, namespace))
        access = gw.service_account_access(kubeconfig, name, namespace, tmp_path)
        traefik = gw.Traefik(tmp_path, access, namespace, relay)
        gw.apply_all(kubeconfig, namespace, [gw.gateway_class(name),
                                             gw.gateway("gw", name, traefik.port)])
        stack.callback(traefik.stop)
        traefik.start()
        yield Split(traefik, relayed)


def _delete_cluster_scoped(kubeconfig: Path, name: str) -> None:
    for kind in ("gatewayclass", "clusterrolebinding", "clusterrole"):
        kubectl(kubeconfig, "delete", kind, name, "--ignore-not-found", "--wait=false")


def _route_ready(kubeconfig: Path, namespace: str) -> bool:
    return all(gw.route_condition(kubeconfig, namespace, ROUTE, kind) == "True"
               for kind in ("Accepted", "ResolvedRefs"))


def _route_and_count(split: Split, kubeconfig: Path, namespace: str,
                     weights: dict[str, int]) -> dict[str, int]:
    """Route by ``weights``, wait until Traefik serves that route, then count the answers
    to REQUESTS requests."""
    gw.apply_all(kubeconfig, namespace, [gw.weighted_route(ROUTE, "gw", weights, SERVICE_PORT)])
    wait_for(lambda: _route_ready(kubeconfig, namespace), 60,
             f"HTTPRoute {ROUTE} Accepted and ResolvedRefs by Traefik (log: {split.traefik.log})")
    # The status is written as the configuration is built, before Traefik serves it.
    wanted = sorted(weights.values())
    wait_for(lambda: any(sorted(served.values()) == wanted
                         for served in split.traefik.weighted_services()),
             60, f"Traefik serving a weighted service {wanted}")
    started = time.monotonic()
    counts = gw.count_answers(split.traefik.url, REQUESTS)
    elapsed = time.monotonic() - started
    print(f"route {weights}, {REQUESTS} requests through Traefik in {elapsed:.1f}s: answers "
          f"{counts}, backend connections so far {split.relayed}")
    return counts


def test_traefik_splits_by_the_route_weights(gateway_implementation_crds: Path, namespace: str,
                                             split: Split) -> None:
    kubeconfig = gateway_implementation_crds
    counts = _route_and_count(split, kubeconfig, namespace, {STABLE: 90, CANARY: 10})
    assert set(counts) == {STABLE, CANARY}
    assert abs(counts[CANARY] / REQUESTS - 0.10) <= TOLERANCE, counts
    assert set(split.relayed) == set(ADDRESSES.values())  # to the EndpointSlices' addresses

    # The next canary step: a changed weight is honoured as the route changes.
    counts = _route_and_count(split, kubeconfig, namespace, {STABLE: 50, CANARY: 50})
    assert abs(counts[CANARY] / REQUESTS - 0.50) <= TOLERANCE, counts
