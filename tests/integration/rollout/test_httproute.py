"""The real API server validates every HTTPRoute the builder writes (server-side dry run).

The Gateway API CRDs come from the sigs.k8s.io/gateway-api module; their OpenAPI schema and
CEL rules are what any cluster with Gateway API would apply. No Gateway runs here.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from vigia_operator.children.route import build_gateway_objects
from vigia_operator.decide.rollout.traffic import TrafficPlan
from vigia_operator.view import parse
from vigia_operator.view.rollout import HTTPRouteSpec, ParentRef
from vigia_testbed.kube import KubectlError, kubectl

from tests.unit.operator.schema import defaulted_sample

pytestmark = pytest.mark.integration

V1_URI, V2_URI = "file:///models/iris/v1", "file:///models/iris/v2"


def _md(namespace: str):
    body = defaulted_sample()
    body["metadata"].update(namespace=namespace, uid="0f0e0d0c-0000-4000-8000-000000000001")
    return parse(body)


def _dry_run(kubeconfig: Path, obj: dict) -> dict:
    out = kubectl(kubeconfig, "apply", "--dry-run=server", "--server-side", "-o", "json",
                  "-f", "-", input=json.dumps(obj))
    return dict(json.loads(out))


ROUTES = [
    HTTPRouteSpec("plain", (ParentRef("gw"),)),
    HTTPRouteSpec("full", (ParentRef("gw", "infra", "https"), ParentRef("other")),
                  ("iris.example.com", "*.models.example.com")),
    HTTPRouteSpec("detached", ()),
]


@pytest.mark.parametrize("route", ROUTES, ids=[r.name for r in ROUTES])
def test_every_route_the_builder_writes_is_valid(gateway_crds: Path, namespace: str,
                                                 route: HTTPRouteSpec) -> None:
    from tests.unit.operator.decide.rollout.helpers import V1, V2

    for canary_weight in (0, 1, 10, 25, 50, 99, 100):
        plan = TrafficPlan(V1, 4, V2, 1, canary_weight)
        for obj in build_gateway_objects(_md(namespace), route, plan):
            accepted = _dry_run(gateway_crds, obj)
            assert accepted["kind"] == obj["kind"]
            if obj["kind"] == "HTTPRoute":
                backends = accepted["spec"]["rules"][0]["backendRefs"]
                assert [b["weight"] for b in backends] == [100 - canary_weight, canary_weight]


def test_the_server_really_validates_routes(gateway_crds: Path, namespace: str) -> None:
    """A route the builder never writes is refused: the dry run is not a rubber stamp."""
    from tests.unit.operator.decide.rollout.helpers import V1, V2

    route = build_gateway_objects(_md(namespace), ROUTES[0], TrafficPlan(V1, 4, V2, 1, 10))[-1]
    bad = json.loads(json.dumps(route))
    bad["spec"]["rules"][0]["backendRefs"][1]["weight"] = -1
    with pytest.raises(KubectlError, match="weight"):
        _dry_run(gateway_crds, bad)
    many = replace(ROUTES[0], parent_refs=tuple(ParentRef(f"gw{i}") for i in range(33)))
    too_many = build_gateway_objects(_md(namespace), many, TrafficPlan(V1, 4, V2, 1, 10))[-1]
    with pytest.raises(KubectlError, match="parentRefs"):
        _dry_run(gateway_crds, too_many)
