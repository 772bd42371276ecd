"""Every pure part of the operator on one ModelDeployment, as reconciles run them (issue 21).

``run_pure_parts`` takes the object as the API server stored it and moves it through its
life in four reconciles: first sight (parse, policy, rollout step, builders, plan), a tick
with measured signals (monitoring evaluation, retraining policy with its schedule), a tick
long after with a new model in spec.model (the schedule due, a canary starting, a
retraining Job built) and the canary's analysis. It returns the refusals met: the
project's own refusal (``SpecError`` from a view, a ``Refusal`` from the policy or a
decision) is the only way out that becomes a condition; anything else it raises is a bug
that would have stopped the tick.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from vigia_operator.core.clock import iso
from vigia_operator.core.config import OperatorSettings
from vigia_operator.core.types import CANARY, MONITORING, MONITORING_AT, ChildKey, Signals
from vigia_operator.decide.measurements import ModelSignals, TrackSignals
from vigia_operator.decide.monitoring import monitoring_due
from vigia_operator.decide.rollout.gates import TrackMeasurements
from vigia_operator.engine.decide import Observation, decide_children, decide_status
from vigia_operator.engine.observed import Seen, seen
from vigia_operator.status.compose import compose
from vigia_operator.view import ModelDeploymentView, SpecError, parse
from vigia_operator.view.policy import Refusal, check_spec
from vigia_operator.view.retraining import parse_retraining

CREATED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LATER = timedelta(days=800)  # every schedule that fires is due again, every cooldown over


@dataclass
class Life:
    """One object's state between reconciles, as the API server and the indexes keep it."""

    body: dict[str, Any]
    status: dict[str, Any] = field(default_factory=dict)
    children: dict[ChildKey, Seen] = field(default_factory=dict)
    refusals: list[str] = field(default_factory=list)


def run_pure_parts(body: dict[str, Any]) -> list[str]:
    """The refusals met ("reason: message"); raises what a pure part raises otherwise.
    ``body["status"]``, when given, is the status the first reconcile finds (an older
    operator's, or one edited by hand)."""
    life = Life(_server_metadata(body), status=copy.deepcopy(dict(body.get("status") or {})))
    try:
        md = parse(life.body)
        retraining = parse_retraining(life.body)
    except SpecError as error:
        return [f"InvalidSpec: {error}"]
    settings = _settings(md, life.body)
    refused = check_spec(md, retraining, settings)
    if refused is not None:  # the engine stops here, and so does this
        return [f"{refused.reason}: {refused.message}"]
    monitoring_due(md.monitoring, None, CREATED.timestamp())
    if not _reconcile(life, settings, CREATED + timedelta(minutes=1), None, tick=False):
        return life.refusals
    now = CREATED + timedelta(minutes=2)
    if not _reconcile(life, settings, now, _monitoring(md, now), tick=True):
        return life.refusals
    life.body = _new_model(life.body)
    now = CREATED + LATER
    if not _reconcile(life, settings, now, _monitoring(md, now), tick=True):
        return life.refusals
    now += timedelta(minutes=10)
    _reconcile(life, settings, now, _canary(life, md, now), tick=True)
    return life.refusals


def _reconcile(life: Life, settings: OperatorSettings, now: datetime,
               signals: Signals | None, *, tick: bool) -> bool:
    """One reconcile's decisions, the applies taken as done and the pods ready; False when
    it stopped on a refusal."""
    try:
        md = parse(life.body)
        retraining = parse_retraining(life.body)
    except SpecError as error:
        life.refusals.append(f"InvalidSpec: {error}")
        return False
    seen_now = Observation(body=life.body, md=md, retraining=retraining, status=life.status,
                           children=life.children, signals=signals, now=now, tick=tick)
    children = decide_children(seen_now, settings)
    if isinstance(children, Refusal):
        life.refusals.append(f"{children.reason}: {children.message}")
        return False
    applied = dict(life.children)
    for action in children.plan.actions:
        applied[action.key] = seen(_ready(action.desired))
    decided = decide_status(seen_now, children, applied, settings)
    life.children = applied
    life.status = compose(life.status, decided.update, iso(now))
    life.body = {**life.body, "status": life.status}
    return True


def _server_metadata(body: dict[str, Any]) -> dict[str, Any]:
    obj = copy.deepcopy(body)
    meta = obj.setdefault("metadata", {})
    meta.setdefault("name", "md")
    meta.setdefault("namespace", "ml")
    meta.setdefault("uid", "0b7c0c5e-1111-2222-3333-444455556666")
    meta.setdefault("generation", 1)
    meta["creationTimestamp"] = iso(CREATED)
    obj.setdefault("apiVersion", "vigia.dev/v1alpha1")
    obj.setdefault("kind", "ModelDeployment")
    return obj


def _settings(md: ModelDeploymentView, body: dict[str, Any]) -> OperatorSettings:
    """The operator's policy allowing this object's images, so the builders run."""
    job = ((((body.get("spec") or {}).get("retraining") or {}).get("job")) or {})
    images = tuple(i for i in (md.serving.image, job.get("image")) if isinstance(i, str) and i)
    return OperatorSettings(allowed_images=images)


def _ready(obj: dict[str, Any]) -> dict[str, Any]:
    """A child as its controller reports it once rolled out."""
    obj = copy.deepcopy(obj)
    obj["metadata"]["resourceVersion"] = "1"
    if obj.get("kind") == "Deployment":
        replicas = int((obj.get("spec") or {}).get("replicas") or 0)
        obj["status"] = {"observedGeneration": 1, "replicas": replicas,
                         "readyReplicas": replicas, "availableReplicas": replicas,
                         "updatedReplicas": replicas}
        obj["metadata"]["generation"] = 1
    return obj


def _new_model(body: dict[str, Any]) -> dict[str, Any]:
    obj = copy.deepcopy(body)
    model = obj["spec"]["model"]
    model["uri"] = model["uri"].rstrip("/") + "-next"
    model.pop("version", None)
    obj["metadata"]["generation"] = int(obj["metadata"]["generation"]) + 1
    return obj


def _monitoring(md: ModelDeploymentView, now: datetime) -> Signals:
    """Signals that cross every threshold: drift, low accuracy and confidence, KPIs."""
    track = TrackSignals(
        feature_rows={"f": 10_000.0}, feature_psi={"f": 0.9}, feature_jensen_shannon={"f": 0.5},
        predictions=10_000.0, prediction_shift=0.5, feedback=5_000.0, accuracy=0.5,
        confidence_mean=0.4, confidence_below={0.5: 0.6, 0.9: 0.9},
        last_scrape=now.timestamp(), from_rules=True, rules_evaluated=now.timestamp())
    kpis = {kpi.name: 1.0 for kpi in md.monitoring.kpis}
    values = {MONITORING: ModelSignals(tracks={("stable", md.model.version): track}, kpis=kpis),
              MONITORING_AT: now.timestamp()}
    return Signals(iso(now), values)


def _canary(life: Life, md: ModelDeploymentView, now: datetime) -> Signals:
    """The canary worse than the stable track on every gate."""
    versions = {track: str((life.status.get(track) or {}).get("version") or "")
                for track in ("stable", "canary")}
    good = TrackMeasurements(requests=1000, errors=0, latency_p95_s=0.05, feedback_correct=900,
                             feedback_total=1000, predictions={"a": 500, "b": 500},
                             input_drift=0.01)
    bad = TrackMeasurements(requests=1000, errors=100, latency_p95_s=2.0, feedback_correct=500,
                            feedback_total=1000, predictions={"a": 1000}, input_drift=0.9)
    signals = _monitoring(md, now)
    values = {**signals.values, CANARY: {("stable", versions["stable"]): good,
                                         ("canary", versions["canary"]): bad}}
    return Signals(signals.collected_at, values)


