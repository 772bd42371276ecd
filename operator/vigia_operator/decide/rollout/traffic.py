"""How a requested canary weight becomes pods and route weights, and what it achieves.

Replicas router: one Service selects both tracks, so the weight is the share of ready
pods. The canary gets round(weight x replicas / 100) pods (at least one) and the stable
gives up only as many pods as the canary has ready, so capacity never drops below
spec.serving.replicas. Unready pods are not endpoints of the Service, so the achieved
weight counts ready pods only: 1 ready canary pod beside 3 stable ones is 25%.

With an autoscaler (spec.serving.autoscaling) the stable Deployment's count is the
HPA's: the stable gives up no pods, and the canary follows the stable's current count
instead, c = round(w x S / (100 - w)) pods beside S stable ones (at most maxReplicas), so
the achieved share c / (c + S) stays within one pod of the requested weight.

GatewayAPI router: the HTTPRoute splits traffic by backend weights; the canary Service
gets weight 0 until a canary pod is ready (a backend with no endpoints would fail
requests), and the stable keeps all its pods.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from vigia_operator.decide.rollout.model import (
    PROMOTING,
    ROLLING_BACK,
    CanaryState,
    Observed,
    Version,
)
from vigia_operator.view.rollout import FULL_WEIGHT, Router


@dataclass(frozen=True)
class TrafficPlan:
    """The desired state of both tracks."""

    stable_version: Version
    stable_replicas: int
    canary_version: Version | None
    canary_replicas: int
    route_canary_weight: int  # GatewayAPI backend weight of the canary Service, percent

    @property
    def route_stable_weight(self) -> int:
        return FULL_WEIGHT - self.route_canary_weight


def _round(x: float) -> int:
    return math.floor(x + 0.5)


def canary_replicas(weight: int, replicas: int, router: Router) -> int:
    """Canary pods for a weight: Replicas sizes the split itself, GatewayAPI its capacity."""
    share = weight * replicas / FULL_WEIGHT
    wanted = _round(share) if router == "Replicas" else math.ceil(share)
    return max(1, min(replicas, wanted))


def following_replicas(weight: int, stable: int, router: Router, ceiling: int) -> int:
    """Canary pods beside an autoscaled stable of ``stable`` pods: Replicas keeps the pod
    ratio at the weight, GatewayAPI gives the canary the capacity of its share."""
    if router != "Replicas":
        return canary_replicas(weight, stable, router)
    if weight >= FULL_WEIGHT:
        return max(1, min(ceiling, stable))
    return max(1, min(ceiling, _round(weight * stable / (FULL_WEIGHT - weight))))


def canary_pods(weight: int, fleet: int, router: Router, ceiling: int | None) -> int:
    """Canary pods for a weight: ``ceiling`` is maxReplicas when autoscaled (the canary
    then follows the stable's ``fleet``), None for a fixed count."""
    if ceiling is None:
        return canary_replicas(weight, fleet, router)
    return following_replicas(weight, fleet, router, ceiling)


def achieved_weight(router: Router, requested: int, canary_ready: int, stable_ready: int) -> int:
    """The share of traffic the canary really gets, in percent."""
    if router == "GatewayAPI":
        return requested if canary_ready > 0 else 0
    total = canary_ready + stable_ready
    return _round(FULL_WEIGHT * canary_ready / total) if total else 0


def shrink(current: int, replicas: int, stable_ready: int) -> int:
    """Canary pods kept during a rollback: only as many as the stable still lacks."""
    return max(0, min(current, replicas - stable_ready))


def split_traffic(
    router: Router,
    replicas: int,
    stable_serving: Version,
    canary: CanaryState | None,
    observed: Observed,
    ceiling: int | None = None,
) -> TrafficPlan:
    """``replicas``: the stable track's size (spec.serving.replicas, or the autoscaler's
    current count); ``ceiling``: maxReplicas when autoscaled, else None."""
    if canary is None:
        return TrafficPlan(stable_serving, replicas, None, 0, 0)
    canary_ready = observed.canary_ready
    if canary.phase == ROLLING_BACK:
        return TrafficPlan(stable_serving, replicas, canary.version, canary.canary_replicas, 0)
    if ceiling is not None:
        return _beside_autoscaled(replicas, stable_serving, canary, observed, ceiling, router)
    stable_replicas = replicas
    if router == "Replicas" and canary.phase != PROMOTING:
        stable_replicas = max(1, replicas - min(canary.canary_replicas, canary_ready))
        if not observed.settled and observed.stable_desired is not None:
            # A stale ready count would take pods back from the canary: hold until the
            # Deployments' controller has caught up (next tick).
            stable_replicas = observed.stable_desired
    # While promoting, canary.weight stays the last step's: the stable Deployment rolls to
    # the new version, and the canary's few pods could not take all the traffic.
    canary_serving = canary_ready > 0 if observed.settled else canary.achieved_weight > 0
    route_weight = canary.weight if canary_serving else 0
    return TrafficPlan(
        stable_serving, stable_replicas, canary.version, canary.canary_replicas, route_weight
    )


def _beside_autoscaled(replicas: int, stable_serving: Version, canary: CanaryState,
                       observed: Observed, ceiling: int, router: Router) -> TrafficPlan:
    """The stable keeps the autoscaler's count; a progressing canary follows it."""
    pods = canary.canary_replicas
    if canary.phase != PROMOTING:
        pods = following_replicas(canary.weight, replicas, router, ceiling)
    canary_serving = (observed.canary_ready > 0 if observed.settled
                      else canary.achieved_weight > 0)
    route_weight = canary.weight if canary_serving else 0
    return TrafficPlan(stable_serving, replicas, canary.version, pods, route_weight)
