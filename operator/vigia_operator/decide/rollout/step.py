"""One rollout step of one ModelDeployment, pure: from its status and observed Deployments
to the decision and the traffic plan (status.rollout turns it into its sections).

The engine calls it before building the children (the desired Deployments depend on the
decision) and writes the sections it returns; nothing is remembered between calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from vigia_operator.core import resources as r
from vigia_operator.decide.rollout.gates import LabelsSoFar, Measurements, analyse
from vigia_operator.decide.rollout.machine import Inputs, decide
from vigia_operator.decide.rollout.model import (
    PROGRESSING,
    Analysis,
    CanaryState,
    Observed,
    RolloutDecision,
    Version,
)
from vigia_operator.decide.rollout.state import (
    canary_from_status,
    history_from_status,
    version_from_status,
)
from vigia_operator.decide.rollout.traffic import TrafficPlan, split_traffic
from vigia_operator.view import ModelDeploymentView
from vigia_operator.view.rollout import RolloutSpec

Obj = dict[str, Any]


@dataclass(frozen=True)
class Measured:
    """This tick's canary measurements of one model; None outside a tick."""

    measurements: Measurements | None  # None: they could not be taken (see error)
    error: str = ""


@dataclass(frozen=True)
class RolloutStep:
    decision: RolloutDecision
    traffic: TrafficPlan
    observed: Observed
    analysis: Analysis | None
    fleet: int = 1  # the stable track's size: spec.serving.replicas or the autoscaler's


def stable_fleet(md: ModelDeploymentView, stable: Mapping[str, Any] | None) -> int:
    """spec.serving.replicas; with an autoscaler, the count it (or the user before it) set
    on the stable Deployment, which the operator then keeps (minReplicas to create it)."""
    if md.serving.autoscaling is None or stable is None:
        return md.serving.replicas
    return _desired(stable) or md.serving.replicas


def target_of(md: ModelDeploymentView) -> Version:
    return Version(md.model.version, md.model.uri, md.model.digest)


def observe_tracks(stable: Mapping[str, Any] | None,
                   canary: Mapping[str, Any] | None) -> Observed:
    """Ready pods of each track's current template, read from its Deployment's status."""
    stable_ready, stable_serves, stable_complete, _ = _track(stable)
    canary_ready, canary_serves, _, canary_pods = _track(canary)
    return Observed(stable_ready=stable_ready, stable_serves=stable_serves,
                    stable_complete=stable_complete, canary_ready=canary_ready,
                    canary_pods=canary_pods, canary_serves=canary_serves,
                    settled=_observed(stable) and _observed(canary),
                    stable_desired=_desired(stable))


def _observed(deployment: Mapping[str, Any] | None) -> bool:
    """Whether the Deployment's status describes its current spec."""
    if deployment is None:
        return True
    observed = int((deployment.get("status") or {}).get("observedGeneration", 0))
    return observed >= int((deployment.get("metadata") or {}).get("generation", 1))


def _desired(deployment: Mapping[str, Any] | None) -> int | None:
    if deployment is None:
        return None
    return int((deployment.get("spec") or {}).get("replicas", 1))


def _track(deployment: Mapping[str, Any] | None) -> tuple[int, str | None, bool, int]:
    if deployment is None:
        return 0, None, False, 0
    spec = deployment.get("spec") or {}
    status = deployment.get("status") or {}
    template = (spec.get("template") or {}).get("metadata") or {}
    serves = (template.get("annotations") or {}).get(r.ANNOTATION_MODEL_URI)
    desired = int(spec.get("replicas", 1))
    updated = int(status.get("updatedReplicas", 0))
    total = int(status.get("replicas", 0))
    available = int(status.get("availableReplicas", 0))
    current = _observed(deployment)
    # Ready pods of the current template: pods of an older template are not counted.
    ready = min(int(status.get("readyReplicas", 0)), updated) if current else 0
    complete = current and updated == desired and total == updated and available >= desired
    return ready, serves, complete, total


def labels_so_far(canary: CanaryState, interval_s: float, now: datetime) -> LabelsSoFar:
    """The feedback labels the canary's recorded analyses have counted, and the share of a
    window ending now that they have not: each window is the last ``interval``, and an
    analysis recorded less than an interval ago already counted the rest of it."""
    last = canary.last_analysis
    if last is None:
        return LabelsSoFar()
    since = (now - last.at).total_seconds()
    return LabelsSoFar(last.canary_labels, last.stable_labels,
                       new_share=since / interval_s if interval_s > 0 else 1.0)


def step(md: ModelDeploymentView, spec: RolloutSpec, status: Mapping[str, Any],
         command: str | None, stable_deployment: Mapping[str, Any] | None,
         canary_deployment: Mapping[str, Any] | None, measured: Measured | None,
         now: datetime) -> RolloutStep:
    canary = canary_from_status(status.get("canary"))
    history = history_from_status(status.get("history"))
    observed = observe_tracks(stable_deployment, canary_deployment)
    analysis = None
    if measured is not None and canary is not None and canary.phase == PROGRESSING:
        costs = md.monitoring.costs
        analysis = analyse(spec.analysis, measured.measurements, now, error=measured.error,
                           so_far=labels_so_far(canary, spec.analysis.interval_s, now),
                           costs=None if costs is None else costs.table)
    fleet = stable_fleet(md, stable_deployment)
    scaling = md.serving.autoscaling
    ceiling = None if scaling is None else scaling.max_replicas
    decision = decide(Inputs(
        spec=spec, replicas=fleet, target=target_of(md), ceiling=ceiling,
        stable=version_from_status(status.get("stable")), canary=canary,
        last_ended=history[0] if history else None, analysis=analysis, command=command,
        observed=observed, now=now,
    ))
    traffic = split_traffic(spec.router, fleet, decision.stable_serving, decision.canary,
                            observed, ceiling)
    following = decision.canary
    if ceiling is not None and following is not None and following.phase == PROGRESSING:
        # status.canary.canaryReplicas says the count the canary follows the stable with.
        decision = replace(decision, canary=replace(
            following, canary_replicas=traffic.canary_replicas))
    return RolloutStep(decision, traffic, observed, analysis, fleet)
