"""Pure builder of the stable track's HorizontalPodAutoscaler (spec.serving.autoscaling).

The HPA scales the stable Deployment between minReplicas and maxReplicas; the operator
then leaves that Deployment's replica count to it (decide/rollout/traffic.py). The target
is CPU utilisation (the resource metrics API, metrics-server) or requests per second per
pod, a Pods metric a Prometheus adapter serves under ``REQUESTS_PER_SECOND``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from vigia.metrics import REQUESTS_PER_SECOND, TRACK_STABLE
from vigia_operator.children.serving import labels, owner_reference
from vigia_operator.core import resources as r
from vigia_operator.view import ModelDeploymentView
from vigia_operator.view.autoscaling import Autoscaling

Obj = dict[str, Any]


def build_autoscaler(md: ModelDeploymentView) -> Obj | None:
    """The HPA md should own, or None when its replica count is fixed."""
    scaling = md.serving.autoscaling
    if scaling is None:
        return None
    spec: Obj = {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                           "name": r.deployment_name(md.name, TRACK_STABLE)},
        "minReplicas": scaling.min_replicas,
        "maxReplicas": scaling.max_replicas,
        "metrics": [metric(scaling)],
    }
    if scaling.scale_down_stabilization_s is not None:
        spec["behavior"] = {"scaleDown": {
            "stabilizationWindowSeconds": scaling.scale_down_stabilization_s}}
    return {
        "apiVersion": r.HPA.api_version,
        "kind": r.HPA.kind,
        "metadata": {
            "name": r.autoscaler_name(md.name),
            "namespace": md.namespace,
            "labels": labels(md, TRACK_STABLE),
            "ownerReferences": [owner_reference(md)],
        },
        "spec": spec,
    }


def metric(scaling: Autoscaling) -> Obj:
    """The HPA's one metric: CPU utilisation of the pods' requests, or requests per second
    per pod."""
    if scaling.cpu_utilization is not None:
        return {"type": "Resource", "resource": {"name": "cpu", "target": {
            "type": "Utilization", "averageUtilization": scaling.cpu_utilization}}}
    assert scaling.requests_per_second is not None, "parse_autoscaling sets one target"
    return {"type": "Pods", "pods": {
        "metric": {"name": REQUESTS_PER_SECOND},
        "target": {"type": "AverageValue",
                   "averageValue": quantity(scaling.requests_per_second)}}}


def quantity(value: float) -> str:
    """A rate as the API server writes it back (so the comparison with the observed HPA
    holds): whole numbers plain, others in thousandths ("2500m")."""
    milli = int(Decimal(str(value)).scaleb(3).to_integral_value())
    return str(milli // 1000) if milli % 1000 == 0 else f"{milli}m"
