"""The rollout's part of one reconcile (pure): run before the children are built, since
the Deployments the engine applies follow the decision, and read by the rollout's status
section computer afterwards."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from vigia.metrics import TRACK_CANARY, TRACK_STABLE
from vigia_operator.children.tracks import Tracks, track_view
from vigia_operator.core import resources as r
from vigia_operator.core.types import CANARY, CANARY_ERROR, Signals
from vigia_operator.decide.rollout.gates import Measurements, TrackMeasurements
from vigia_operator.decide.rollout.state import version_from_status
from vigia_operator.decide.rollout.step import Measured, RolloutStep, step
from vigia_operator.view import ModelDeploymentView
from vigia_operator.view.rollout import parse_command

ChildKey = tuple[str, str]


@dataclass(frozen=True)
class RolloutResult:
    step: RolloutStep
    tracks: Tracks
    serving_view: ModelDeploymentView  # md as the stable Deployment serves it


def measured_from(signals: Signals | None, status: Mapping[str, Any]) -> Measured | None:
    """This tick's canary measurements for the canary and stable versions in status."""
    if signals is None:
        return None
    if signals.error:
        return Measured(None, signals.error)
    values = signals.values
    if CANARY_ERROR in values:
        return Measured(None, str(values[CANARY_ERROR]))
    tracks = values.get(CANARY)
    if tracks is None:
        return None
    canary = version_from_status(status.get("canary"))
    stable = version_from_status(status.get("stable"))
    empty = TrackMeasurements()
    return Measured(Measurements(
        canary=tracks.get((TRACK_CANARY, canary.version), empty) if canary else empty,
        stable=tracks.get((TRACK_STABLE, stable.version), empty) if stable else empty,
    ))


def run_rollout(md: ModelDeploymentView, body: Mapping[str, Any], status: Mapping[str, Any],
                observed: Mapping[ChildKey, Mapping[str, Any]], signals: Signals | None,
                now: datetime) -> RolloutResult:
    assert md.rollout is not None, "parse() sets md.rollout"
    annotations = (body.get("metadata") or {}).get("annotations")
    stable = observed.get(("Deployment", r.deployment_name(md.name, TRACK_STABLE)))
    canary = observed.get(("Deployment", r.deployment_name(md.name, TRACK_CANARY)))
    result = step(md, md.rollout, status, parse_command(annotations), stable, canary,
                  measured_from(signals, status), now)
    route = md.rollout.http_route if md.rollout.router == "GatewayAPI" else None
    tracks = Tracks(result.traffic, keep_canary=canary is not None, route=route)
    serving = track_view(md, result.decision.stable_serving, md.serving.replicas)
    return RolloutResult(result, tracks, serving)
