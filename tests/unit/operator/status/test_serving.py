from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from vigia_operator.children.serving import build_configmap, build_deployment
from vigia_operator.core import reasons
from vigia_operator.core import resources as r
from vigia_operator.core.clock import iso
from vigia_operator.decide.rollout.step import step
from vigia_operator.status import conditions as c
from vigia_operator.status.compose import compose
from vigia_operator.status.events import events_for
from vigia_operator.status.rollout import rollout_sections
from vigia_operator.status.sections import SectionInput, StatusUpdate
from vigia_operator.status.serving import observe, refusal, serving_sections
from vigia_operator.view import parse

from tests.unit.operator.schema import defaulted_sample
from vigia.metrics import TRACK_STABLE

MD = parse(defaulted_sample())
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def _deployment(uri: str = MD.model.uri, **status: Any) -> dict[str, Any]:
    obj = build_deployment(MD, build_configmap(MD))
    obj["metadata"]["generation"] = 2
    obj["spec"]["template"]["metadata"]["annotations"]["vigia.dev/model-uri"] = uri
    obj["status"] = {"observedGeneration": 2, **status}
    return obj


AVAILABLE: dict[str, Any] = {
    "replicas": 1, "updatedReplicas": 1, "readyReplicas": 1, "availableReplicas": 1,
    "conditions": [
        {"type": "Available", "status": "True"},
        {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"},
    ],
}


def _status(deployment: dict[str, Any] | None, previous: dict[str, Any] | None = None,
            handled: bool = True) -> dict[str, Any]:
    """The status after the serving and rollout sections (status.stable is the rollout's)."""
    previous = previous or {}
    observed = {} if deployment is None else {
        ("Deployment", r.deployment_name(MD.name, TRACK_STABLE)): deployment}
    assert MD.rollout is not None
    rollout = step(MD, MD.rollout, previous, None, deployment, None, None, NOW)
    given = SectionInput(md=MD, observed=observed, previous=previous, signals=None, now=NOW,
                         rollout=rollout)
    update = StatusUpdate((*serving_sections(given), *rollout_sections(given)),
                          observed_generation=MD.generation if handled else None)
    return compose(previous, update, iso(NOW))


def _cond(status: dict[str, Any], type_: str) -> dict[str, Any]:
    found = c.find(status["conditions"], type_)
    assert found is not None
    return dict(found)


def test_pending_without_deployment() -> None:
    status = _status(None)
    assert status["phase"] == reasons.PHASE_PENDING
    assert _cond(status, reasons.READY)["status"] == "False"
    assert status["observedGeneration"] == 1
    assert "stable" not in status


def test_ready_when_available() -> None:
    status = _status(_deployment(**AVAILABLE))
    assert status["phase"] == reasons.PHASE_READY
    ready = _cond(status, reasons.READY)
    assert (ready["status"], ready["reason"]) == ("True", reasons.AVAILABLE)
    assert "1/1 replicas available" in ready["message"]
    assert ready["observedGeneration"] == 1
    assert status["stable"] == {"version": "1", "uri": MD.model.uri, "since": iso(NOW)}
    assert status["serving"]["readyReplicas"] == 1


def test_progressing_while_pods_start() -> None:
    status = _status(_deployment(replicas=1, updatedReplicas=1, conditions=[
        {"type": "Progressing", "status": "True", "reason": "NewReplicaSetCreated"}]))
    assert status["phase"] == reasons.PHASE_PROGRESSING
    assert _cond(status, reasons.PROGRESSING)["status"] == "True"
    assert _cond(status, reasons.DEGRADED)["status"] == "False"


def test_old_model_still_running_is_progressing() -> None:
    status = _status(_deployment(uri="file:///models/sobaos/0", **AVAILABLE))
    assert status["phase"] == reasons.PHASE_PROGRESSING
    assert "Rolling out version 1" in _cond(status, reasons.READY)["message"]


def test_stale_controller_view_is_not_ready() -> None:
    deployment = _deployment(**AVAILABLE)
    deployment["metadata"]["generation"] = 3
    assert _status(deployment)["phase"] == reasons.PHASE_PROGRESSING


def test_degraded_on_deadline_and_lost_replicas() -> None:
    deadline = _status(_deployment(replicas=1, updatedReplicas=1, conditions=[
        {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
         "message": "took too long"}]))
    assert deadline["phase"] == reasons.PHASE_DEGRADED
    assert _cond(deadline, reasons.DEGRADED)["reason"] == reasons.PROGRESS_DEADLINE
    lost = _status(_deployment(**{**AVAILABLE, "availableReplicas": 0, "readyReplicas": 0}))
    assert lost["phase"] == reasons.PHASE_DEGRADED
    assert _cond(lost, reasons.READY)["reason"] == reasons.REPLICAS_UNAVAILABLE


def test_unhandled_generation_keeps_observed_generation() -> None:
    previous = {"observedGeneration": 7}
    assert _status(_deployment(**AVAILABLE), previous, handled=False)["observedGeneration"] == 7
    assert "observedGeneration" not in _status(None, {}, handled=False)


def test_since_is_kept_for_the_same_model() -> None:
    previous = {"stable": {"uri": MD.model.uri, "since": "earlier"}}
    assert _status(_deployment(**AVAILABLE), previous)["stable"]["since"] == "earlier"


def test_failed_status() -> None:
    status = compose({}, refusal(4, reasons.INVALID_SPEC, "spec.model.uri: bad"), iso(NOW))
    assert status["phase"] == reasons.PHASE_FAILED
    assert status["observedGeneration"] == 4
    assert _cond(status, reasons.READY)["message"] == "spec.model.uri: bad"


def test_events_on_transitions_only() -> None:
    pending = _status(None)
    ready = _status(_deployment(**AVAILABLE), pending)
    events = events_for(pending, ready)
    assert [(e.type, e.reason) for e in events] == [("Normal", reasons.READY)]
    assert events_for(ready, _status(_deployment(**AVAILABLE), ready)) == []
    lost = _status(_deployment(**{**AVAILABLE, "availableReplicas": 0}), ready)
    assert {(e.type, e.reason) for e in events_for(ready, lost)} == {
        ("Warning", "NotReady"), ("Warning", reasons.REPLICAS_UNAVAILABLE)}


def test_observe_reads_the_rollout() -> None:
    rollout = observe(_deployment(**AVAILABLE))
    assert rollout.complete and rollout.finished_once and rollout.failure is None
    assert not observe({}).complete
