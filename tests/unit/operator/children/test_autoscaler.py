"""The stable track's HorizontalPodAutoscaler, built from spec.serving.autoscaling."""

from __future__ import annotations

from dataclasses import replace

import pytest
from vigia_operator.children import build_children
from vigia_operator.children.autoscaler import build_autoscaler, quantity
from vigia_operator.view import parse
from vigia_operator.view.autoscaling import Autoscaling

from tests.unit.operator.schema import defaulted_sample
from vigia.metrics import REQUESTS_PER_SECOND

MD = parse(defaulted_sample())
CPU = Autoscaling(min_replicas=2, max_replicas=6, cpu_utilization=70, requests_per_second=None)


def _with(scaling: Autoscaling | None):
    return replace(MD, serving=replace(MD.serving, autoscaling=scaling))


def test_no_autoscaler_for_a_fixed_count() -> None:
    assert build_autoscaler(MD) is None
    assert "HorizontalPodAutoscaler" not in [o["kind"] for o in build_children(MD)]


def test_cpu_target_scales_the_stable_deployment() -> None:
    hpa = build_autoscaler(_with(CPU))
    assert hpa is not None
    assert (hpa["apiVersion"], hpa["kind"]) == ("autoscaling/v2", "HorizontalPodAutoscaler")
    assert hpa["metadata"]["name"] == "sobaos-stable"
    assert hpa["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "vigia-operator"
    (owner,) = hpa["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["controller"]) == ("ModelDeployment", True)
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                             "name": "sobaos-stable"}
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 6)
    assert hpa["spec"]["metrics"] == [{"type": "Resource", "resource": {
        "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}]
    assert "behavior" not in hpa["spec"]


def test_requests_per_second_is_a_pods_metric_with_a_stabilization_window() -> None:
    rps = replace(CPU, cpu_utilization=None, requests_per_second=2.5,
                  scale_down_stabilization_s=30)
    hpa = build_autoscaler(_with(rps))
    assert hpa is not None
    assert hpa["spec"]["metrics"] == [{"type": "Pods", "pods": {
        "metric": {"name": REQUESTS_PER_SECOND},
        "target": {"type": "AverageValue", "averageValue": "2500m"}}}]
    assert hpa["spec"]["behavior"] == {"scaleDown": {"stabilizationWindowSeconds": 30}}


@pytest.mark.parametrize(("rate", "text"), [(10, "10"), (2.5, "2500m"), (0.001, "1m"),
                                            (100000, "100000")])
def test_quantity(rate: float, text: str) -> None:
    assert quantity(rate) == text


def test_the_autoscaler_comes_after_the_deployment() -> None:
    kinds = [o["kind"] for o in build_children(_with(CPU))]
    assert kinds.index("HorizontalPodAutoscaler") > kinds.index("Deployment")
