"""Pure builders for router GatewayAPI: a Service per track and the weighted HTTPRoute.

No Gateway implementation runs in this project's clusters: the API server validates these
objects (the Gateway API CRDs' schemas and CEL rules), and any conformant Gateway routes
them. The canary backend keeps weight 0 between rollouts, so the route's shape is stable.
"""

from __future__ import annotations

from typing import Any, Final

from vigia.metrics import TRACK_CANARY, TRACK_STABLE
from vigia_operator.children.serving import labels, owner_reference, selector
from vigia_operator.core import resources as r
from vigia_operator.decide.rollout.traffic import TrafficPlan
from vigia_operator.view import ModelDeploymentView
from vigia_operator.view.rollout import HTTPRouteSpec, ParentRef

Obj = dict[str, Any]

GATEWAY_GROUP: Final = r.HTTPROUTE.group


def track_service_name(md_name: str, track: str) -> str:
    return f"{md_name}-{track}"


def build_track_service(md: ModelDeploymentView, track: str) -> Obj:
    """A Service over one track's pods: a backend of the HTTPRoute."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": track_service_name(md.name, track),
            "namespace": md.namespace,
            "labels": labels(md, track),
            "ownerReferences": [owner_reference(md)],
        },
        "spec": {
            "type": "ClusterIP",
            "selector": selector(md, track),
            "ports": [{"name": r.PORT_NAME, "port": r.SERVICE_PORT,
                       "targetPort": r.PORT_NAME, "protocol": "TCP"}],
        },
    }


def _parent(ref: ParentRef) -> Obj:
    out: Obj = {"group": GATEWAY_GROUP, "kind": "Gateway", "name": ref.name}
    if ref.namespace is not None:
        out["namespace"] = ref.namespace
    if ref.section_name is not None:
        out["sectionName"] = ref.section_name
    return out


def _backend(md: ModelDeploymentView, track: str, weight: int) -> Obj:
    return {"group": "", "kind": "Service", "name": track_service_name(md.name, track),
            "port": r.SERVICE_PORT, "weight": weight}


def build_http_route(md: ModelDeploymentView, route: HTTPRouteSpec, traffic: TrafficPlan) -> Obj:
    spec: Obj = {
        "parentRefs": [_parent(ref) for ref in route.parent_refs],
        "rules": [{
            "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
            "backendRefs": [
                _backend(md, TRACK_STABLE, traffic.route_stable_weight),
                _backend(md, TRACK_CANARY, traffic.route_canary_weight),
            ],
        }],
    }
    if route.hostnames:
        spec["hostnames"] = list(route.hostnames)
    return {
        "apiVersion": r.HTTPROUTE.api_version,
        "kind": r.HTTPROUTE.kind,
        "metadata": {
            "name": route.name,
            "namespace": md.namespace,
            "labels": labels(md),
            "ownerReferences": [owner_reference(md)],
        },
        "spec": spec,
    }


def build_gateway_objects(md: ModelDeploymentView, route: HTTPRouteSpec,
                          traffic: TrafficPlan) -> list[Obj]:
    """Both track Services, then the route that points at them."""
    return [build_track_service(md, TRACK_STABLE), build_track_service(md, TRACK_CANARY),
            build_http_route(md, route, traffic)]
