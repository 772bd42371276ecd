"""Pure builders of the two tracks' Deployments from a traffic plan.

The stable Deployment serves the plan's stable version (ahead of status.stable while a
promotion rolls it); the canary Deployment serves the canary version. Once a canary has
existed its Deployment is kept at zero replicas between rollouts (as Flagger does), so
ending a rollout never needs a delete and a restarted operator finds it where it was.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from vigia.metrics import TRACK_CANARY, TRACK_STABLE
from vigia_operator.decide.rollout.model import Version
from vigia_operator.decide.rollout.traffic import TrafficPlan
from vigia_operator.view import Model, ModelDeploymentView
from vigia_operator.view.rollout import HTTPRouteSpec

Obj = dict[str, Any]
DeploymentBuilder = Callable[[ModelDeploymentView, Obj, str], Obj]


@dataclass(frozen=True)
class Tracks:
    """What the rollout asks of the children: both tracks' versions and sizes."""

    plan: TrafficPlan
    keep_canary: bool  # a canary Deployment exists: keep it (at zero) between rollouts
    route: HTTPRouteSpec | None  # router GatewayAPI: the HTTPRoute to own


def track_view(md: ModelDeploymentView, version: Version, replicas: int) -> ModelDeploymentView:
    """md as one track sees it: that track's model and pod count."""
    model = Model(uri=version.uri, digest=version.digest, version=version.version)
    return replace(md, model=model, serving=replace(md.serving, replicas=replicas))


def build_tracks(md: ModelDeploymentView, configmap: Obj, traffic: TrafficPlan, *,
                 keep_canary: bool, deployment: DeploymentBuilder) -> list[Obj]:
    """The stable Deployment, and the canary one while a canary is in flight or exists."""
    stable = deployment(
        track_view(md, traffic.stable_version, traffic.stable_replicas), configmap, TRACK_STABLE
    )
    if traffic.canary_version is None and not keep_canary:
        return [stable]
    version = traffic.canary_version or traffic.stable_version
    canary = deployment(track_view(md, version, traffic.canary_replicas), configmap,
                        TRACK_CANARY)
    return [stable, canary]
