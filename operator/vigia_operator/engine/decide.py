"""The decisions of one reconcile, pure: from what was observed to what to do.

Two steps around the applies, both pure functions of the observation:

- ``decide_children``: the model to roll out (spec.model, or an approved candidate), the
  rollout's step, the desired children and the plan of applies (or why none is made);
- ``decide_status``: every status section (serving, rollout, monitoring, retraining), the
  Events of the decisions, the retraining Job to create and whether to clear the rollout
  command, computed from the children as the applies left them.

Nothing here calls the API or reads the clock: the engine observes once, acts on these
decisions, then writes the status once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from vigia.metrics import TRACK_CANARY, TRACK_STABLE
from vigia_operator.children import build_children
from vigia_operator.children.tracks import Tracks, track_view
from vigia_operator.core import reasons
from vigia_operator.core import resources as r
from vigia_operator.core.clock import iso
from vigia_operator.core.config import OperatorSettings
from vigia_operator.core.types import CANARY, CANARY_ERROR, ChildKey, Event, Obj, Signals
from vigia_operator.decide.monitoring import MonitoringVerdict
from vigia_operator.decide.plan import Plan, plan_applies
from vigia_operator.decide.rollout.gates import Measurements, TrackMeasurements
from vigia_operator.decide.rollout.state import canary_from_status, version_from_status
from vigia_operator.decide.rollout.step import Measured, RolloutStep, step
from vigia_operator.engine.observed import Seen
from vigia_operator.status.autoscaling import autoscaler_events
from vigia_operator.status.conditions import merge as merge_conditions
from vigia_operator.status.monitoring import monitoring_section
from vigia_operator.status.retraining import (
    RetrainingInput,
    answered_by,
    next_model,
    retraining_section_of,
)
from vigia_operator.status.rollout import rollout_sections
from vigia_operator.status.sections import SectionInput, StatusUpdate
from vigia_operator.status.serving import autoscaling_of, serving_sections
from vigia_operator.view import ModelDeploymentView
from vigia_operator.view.policy import Refusal, check_uri
from vigia_operator.view.retraining import RetrainingSpec
from vigia_operator.view.rollout import parse_command


@dataclass(frozen=True)
class Observation:
    """Everything one reconcile looks at, read once: the object, its latest status, its
    children, the tick's signals, the pods of a finished retraining Job, and the clock."""

    body: Obj
    md: ModelDeploymentView
    retraining: RetrainingSpec | None  # spec.retraining (None: not enabled)
    status: Mapping[str, Any]  # our own last write when the body predates it
    children: Mapping[ChildKey, Seen]
    signals: Signals | None
    now: datetime
    tick: bool
    job_pods: Mapping[str, list[Obj]] = field(default_factory=dict)
    # Child kinds the cluster did not serve when the operator started (no CRD): not watched.
    unserved: frozenset[r.ChildKind] = frozenset()

    @property
    def bodies(self) -> dict[ChildKey, Obj]:
        return {key: seen.body for key, seen in self.children.items()}


@dataclass(frozen=True)
class ChildrenDecision:
    target: ModelDeploymentView  # md with the model to roll out
    rollout: RolloutStep
    serving_view: ModelDeploymentView  # md as the stable Deployment serves it
    plan: Plan
    spec_changed: bool  # md.generation not yet handled: applies are the user's changes
    notes: tuple[str, ...] = ()  # what the logs should say (e.g. a candidate not allowed)
    # Children a decision brings in (the canary Deployment of a rollout not in flight at the
    # last status write): missing is then not deleted, creating them is no restore.
    introduced: frozenset[ChildKey] = frozenset()

    @property
    def rolling(self) -> bool:
        decision = self.rollout.decision
        return decision.canary is not None or bool(decision.ended)


@dataclass(frozen=True)
class StatusDecision:
    update: StatusUpdate
    events: tuple[Event, ...]  # the decisions', besides the writer's condition Events
    job: Mapping[str, Any] | None  # a retraining Job to create
    clear_command: bool  # the rollout command annotation was consumed
    verdict: MonitoringVerdict | None  # this tick's monitoring verdict, for /metrics


def decide_children(seen: Observation,
                    settings: OperatorSettings) -> ChildrenDecision | Refusal:
    target, notes = _target(seen.md, seen.status, settings)
    bodies = seen.bodies
    rollout = _rollout_step(target, seen, bodies)
    route = target.rollout.http_route if target.rollout and target.rollout.router == (
        "GatewayAPI") else None
    has_canary = ("Deployment", r.deployment_name(target.name, TRACK_CANARY)) in bodies
    tracks = Tracks(rollout.traffic, keep_canary=has_canary, route=route)
    desired = build_children(target, allow_sidecar_digest=settings.allow_sidecar_digest,
                             tracks=tracks)
    not_served = refuse_unserved(desired, seen.unserved)
    if not_served is not None:
        return not_served
    planned = plan_applies(desired, bodies, target.uid, r.REMOVABLE)
    if planned.conflicts:
        return Refusal(reasons.OBJECT_CONFLICT, planned.conflicts[0].message)
    serving = track_view(target, rollout.decision.stable_serving, rollout.fleet)
    spec_changed = seen.status.get("observedGeneration") != target.generation
    return ChildrenDecision(target, rollout, serving, planned, spec_changed, notes,
                            introduced=_introduced(target, seen.status))


def refuse_unserved(desired: Sequence[Obj], unserved: frozenset[r.ChildKind]) -> Refusal | None:
    """A desired child of a kind the cluster does not serve cannot be applied, nor watched:
    the ModelDeployment is refused, saying what to install."""
    kinds = {kind.kind: kind for kind in unserved}
    for obj in desired:
        kind = kinds.get(obj["kind"])
        if kind is not None:
            return Refusal(reasons.API_NOT_SERVED, (
                f"{kind.kind} {obj['metadata']['name']} cannot be created: the cluster did not "
                f"serve {kind.resource} when the operator started (install "
                f"{kind.installed_by or 'its CRD'}, then restart the operator)."))
    return None


def _introduced(md: ModelDeploymentView, status: Mapping[str, Any]) -> frozenset[ChildKey]:
    """The canary Deployment, unless status.canary says a rollout was already in flight
    (its Deployment was then applied before that status was written)."""
    if canary_from_status(status.get("canary")) is not None:
        return frozenset()
    return frozenset({("Deployment", r.deployment_name(md.name, TRACK_CANARY))})


def decide_status(seen: Observation, children: ChildrenDecision,
                  applied: Mapping[ChildKey, Seen], settings: OperatorSettings) -> StatusDecision:
    """Every section from the children as applied (``applied``: the observed children with
    this reconcile's apply results in place)."""
    given = SectionInput(
        md=children.serving_view, observed={k: s.body for k, s in applied.items()},
        previous=seen.status, signals=seen.signals, now=seen.now,
        hand_edits={k: s.hand_edits for k, s in applied.items() if s.hand_edits},
        rollout=children.rollout,
    )
    monitoring = monitoring_section(given)
    sections = [*serving_sections(given), *rollout_sections(given)]
    scaled = autoscaler_events(given, autoscaling_of(given))
    if monitoring.update is not None:
        sections.append(monitoring.update)
    # Retraining decides on this reconcile's conditions (a drift flagged this very tick).
    judged = {**seen.status, "conditions": merge_conditions(
        seen.status.get("conditions") or [],
        [cond for update in sections for cond in update.conditions],
        now=iso(seen.now), generation=children.target.generation)}
    retraining = retraining_section_of(RetrainingInput(
        md=children.target, body=seen.body, status=judged, jobs=jobs_of(applied),
        job_pods=seen.job_pods, signals=seen.signals, now=seen.now, tick=seen.tick,
        allowed_images=settings.allowed_images), seen.retraining)
    if retraining.update is not None:
        sections.append(retraining.update)
    decision = children.rollout.decision
    return StatusDecision(
        update=StatusUpdate(tuple(sections), observed_generation=children.target.generation,
                            answered=answered_by(seen.retraining)),
        events=(*decision.events, *scaled, *retraining.events),
        job=retraining.job,
        clear_command=decision.clear_command,
        verdict=monitoring.verdict,
    )


def jobs_of(children: Mapping[ChildKey, Seen]) -> dict[str, Obj]:
    return {name: seen.body for (kind, name), seen in children.items() if kind == "Job"}


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


def _rollout_step(md: ModelDeploymentView, seen: Observation,
                  bodies: Mapping[ChildKey, Obj]) -> RolloutStep:
    assert md.rollout is not None, "parse() sets md.rollout"
    annotations = (seen.body.get("metadata") or {}).get("annotations")
    stable = bodies.get(("Deployment", r.deployment_name(md.name, TRACK_STABLE)))
    canary = bodies.get(("Deployment", r.deployment_name(md.name, TRACK_CANARY)))
    return step(md, md.rollout, seen.status, parse_command(annotations), stable, canary,
                measured_from(seen.signals, seen.status), seen.now)


def _target(md: ModelDeploymentView, status: Mapping[str, Any],
            settings: OperatorSettings) -> tuple[ModelDeploymentView, tuple[str, ...]]:
    """md with the model to roll out: an approved retraining candidate when there is one
    (and the operator's policy allows its URI), else spec.model."""
    candidate = next_model(status, md.model)
    if candidate is None:
        return md, ()
    target = replace(md, model=candidate)
    refused = check_uri(target, settings)
    if refused is not None:
        return md, (f"Not rolling out the candidate of {md.namespace}/{md.name}: "
                    f"{refused.message}",)
    return target, ()
