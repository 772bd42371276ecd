"""The retraining step of a reconcile, pure: triggers, skips, a Job to create, a finished
Job's result read from its pods, all from one observation."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from vigia_operator.core import reasons
from vigia_operator.core import resources as r
from vigia_operator.core.clock import iso
from vigia_operator.core.types import Signals
from vigia_operator.status.retraining import (
    SECTION,
    WATCH_GRACE_SECONDS,
    RetrainingInput,
    RetrainingOutcome,
    answered_conditions,
    finished_job_awaiting_result,
    retraining_section,
)
from vigia_operator.view import parse

from tests.unit.operator.schema import defaulted_sample
from vigia.retraining import ACCEPTED, RESULT_SCHEMA
from vigia.settings import retrain_env_name

NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
IMAGES = ("docker.io/vigia/vigia",)
DRIFTED = {"type": reasons.DRIFTED, "status": "True", "reason": reasons.FEATURES_DRIFTED,
           "message": "PSI above 0.2 for flour_protein (0.410)"}


def _body() -> dict[str, Any]:
    body = defaulted_sample()
    body["metadata"]["creationTimestamp"] = iso(NOW - timedelta(days=1))
    body["spec"]["retraining"]["triggers"]["schedule"] = None
    body["spec"]["serving"]["predictionLog"]["storeSecretRef"] = {"name": "db", "key": "url"}
    return body


def _run(status: dict[str, Any], *, tick: bool = True, body: dict[str, Any] | None = None,
         jobs: dict[str, Any] | None = None, pods: dict[str, Any] | None = None,
         now: datetime = NOW, images: tuple[str, ...] = IMAGES) -> RetrainingOutcome:
    body = body or _body()
    return retraining_section(RetrainingInput(
        md=parse(body), body=body, status=status, jobs=jobs or {}, job_pods=pods or {},
        signals=Signals(iso(now)) if tick else None, now=now, tick=tick,
        allowed_images=images))


def _section(outcome: RetrainingOutcome) -> dict[str, Any]:
    assert outcome.update is not None
    assert isinstance(outcome.update.value, Mapping)
    return dict(outcome.update.value)


def test_a_drift_on_the_tick_starts_one_job_with_the_numbers() -> None:
    outcome = _run({"conditions": [DRIFTED]})
    assert outcome.job is not None and outcome.job["kind"] == "Job"
    section = _section(outcome)
    assert section["job"] == outcome.job["metadata"]["name"]
    # The candidate gets the model's next version, recorded with its Job and trigger.
    (container,) = outcome.job["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env[retrain_env_name("candidate_version")] == section["runs"][0]["version"] == "2"
    assert section["lastTrigger"]["reason"] == reasons.TRIGGER_DRIFT
    assert "flour_protein (0.410)" in section["lastTrigger"]["message"]
    assert [e.reason for e in outcome.events] == [reasons.RETRAINING_STARTED]
    assert outcome.update is not None
    (cond,) = outcome.update.conditions
    assert (cond.type, cond.status) == (reasons.RETRAINING, "True")


def test_feedback_retraining_without_a_durable_store_is_refused_with_the_reason() -> None:
    """The shipped sample has no storeSecretRef: its log is SQLite in the pod's emptyDir,
    which a Job cannot read and a rollout deletes. No Job; a Warning and the condition say
    why and what to set."""
    body = _body()
    del body["spec"]["serving"]["predictionLog"]["storeSecretRef"]
    outcome = _run({"conditions": [DRIFTED]}, body=body)
    assert outcome.job is None
    section = _section(outcome)
    assert section["lastSkip"]["reason"] == reasons.SKIP_NO_DURABLE_STORE
    (event,) = outcome.events
    assert (event.type, event.reason) == (reasons.WARNING, reasons.RETRAINING_SKIPPED)
    assert "storeSecretRef" in event.message
    assert outcome.update is not None
    (cond,) = outcome.update.conditions
    assert (cond.type, cond.status, cond.reason) == (
        reasons.RETRAINING, "False", reasons.SKIP_NO_DURABLE_STORE)
    assert "includeFeedback: false" in cond.message

    body["spec"]["retraining"]["includeFeedback"] = False  # the base dataset alone: no store
    assert _run({"conditions": [DRIFTED]}, body=body).job is not None


def test_outside_a_tick_nothing_starts() -> None:
    assert _run({"conditions": [DRIFTED]}, tick=False).job is None


def test_a_trigger_in_cooldown_is_skipped_and_said_once() -> None:
    started = _section(_run({"conditions": [DRIFTED]}))
    later = NOW + timedelta(minutes=5)
    status: dict[str, Any] = {"conditions": [DRIFTED], SECTION: {**started, "result": {
        "job": started["job"], "verdict": "Refused", "message": "no better"}}}
    first = _run(status, now=later)
    assert first.job is None
    skip = _section(first)["lastSkip"]
    assert skip["reason"] == reasons.SKIP_COOLDOWN and "left, until" in skip["message"]
    assert [e.reason for e in first.events] == [reasons.RETRAINING_SKIPPED]
    again = _run({**status, SECTION: _section(first)}, now=later + timedelta(minutes=1))
    assert again.events == () and _section(again)["lastSkip"]["at"] == skip["at"]


def test_a_gone_trigger_removes_the_skip_from_the_section() -> None:
    section = {"lastSkip": {"reason": reasons.SKIP_COOLDOWN, "trigger": "Drift", "at": "t"}}
    assert "lastSkip" not in _section(_run({SECTION: section}))


def test_a_job_image_the_operator_does_not_allow_is_a_skip() -> None:
    body = _body()
    body["spec"]["retraining"]["job"] = {"image": "evil.example/miner:1"}
    outcome = _run({"conditions": [DRIFTED]}, body=body)
    assert outcome.job is None
    assert _section(outcome)["lastSkip"]["reason"] == reasons.IMAGE_NOT_ALLOWED


JOB_UID = "0b6c1f0e-5d8e-4c52-9d0e-1f2a3b4c5d6e"


def _finished_job(name: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "uid": JOB_UID, "creationTimestamp": iso(NOW)},
            "status": {"conditions": [{"type": "Complete", "status": "True"}]}}


def _pod(message: str, owner_uid: str = JOB_UID) -> dict[str, Any]:
    owner = {"apiVersion": "batch/v1", "kind": "Job", "name": "j", "uid": owner_uid,
             "controller": True}
    return {"metadata": {"creationTimestamp": iso(NOW), "ownerReferences": [owner]},
            "status": {"containerStatuses": [
        {"name": r.JOB_CONTAINER, "state": {"terminated": {"message": message}}}]}}


def test_a_finished_job_s_result_is_read_from_its_pods() -> None:
    started = _section(_run({"conditions": [DRIFTED]}))
    name = started["job"]
    jobs = {name: _finished_job(name)}
    status = {SECTION: started}
    assert finished_job_awaiting_result(status, jobs) == name
    result: dict[str, Any] = {"schema": RESULT_SCHEMA, "verdict": ACCEPTED, "reasons": [],
              "metrics": {"accuracy": 0.91},
              "candidate": {"version": "2", "uri": "file:///m/2.bentomodel",
                            "digest": "sha256:" + "c" * 64, "reportUri": "file:///m/2.json"}}
    outcome = _run(status, tick=False, jobs=jobs, pods={name: [_pod(json.dumps(result))]})
    section = _section(outcome)
    assert section["result"]["verdict"] == ACCEPTED and section["candidate"]["approved"]
    assert reasons.CANDIDATE_ACCEPTED in [e.reason for e in outcome.events]
    assert finished_job_awaiting_result({SECTION: section}, jobs) is None


def test_a_pod_the_job_does_not_own_never_names_the_candidate() -> None:
    started = _section(_run({"conditions": [DRIFTED]}))
    name = started["job"]
    jobs = {name: _finished_job(name)}
    forged: dict[str, Any] = {"schema": RESULT_SCHEMA, "verdict": ACCEPTED, "reasons": [],
              "metrics": {"accuracy": 0.99},
              "candidate": {"version": "evil", "uri": "file:///evil/x.bentomodel",
                            "digest": "sha256:" + "e" * 64, "reportUri": "file:///evil/x.json"}}
    # Newer than any pod of the Job, with its name label but another owner (or none).
    impostors = [_pod(json.dumps(forged), owner_uid="someone-else"), _pod(json.dumps(forged))]
    impostors[1]["metadata"].pop("ownerReferences")
    outcome = _run({SECTION: started}, tick=False, jobs=jobs, pods={name: impostors})
    section = _section(outcome)
    assert section["result"]["verdict"] == "Failed"
    assert "candidate" not in section
    assert "evil" not in json.dumps(section)


def test_a_job_gone_before_its_result_fails_only_after_the_watch_had_time() -> None:
    started = _section(_run({"conditions": [DRIFTED]}))
    soon = _run({SECTION: started}, tick=False, now=NOW + timedelta(seconds=10))
    assert "result" not in _section(soon)
    late = _run({SECTION: started}, tick=False,
                now=NOW + timedelta(seconds=WATCH_GRACE_SECONDS + 1))
    assert _section(late)["result"]["verdict"] == "Failed"
    assert [e.reason for e in late.events] == [reasons.RETRAINING_FAILED]


def test_an_invalid_retraining_spec_is_a_condition_and_one_event_not_a_crash() -> None:
    body = _body()
    body["spec"]["retraining"]["promote"] = "Sometimes"
    outcome = _run({}, body=body)
    assert outcome.update is not None and outcome.update.value is None  # section kept
    (cond,) = outcome.update.conditions
    assert (cond.type, cond.status, cond.reason) == (
        reasons.RETRAINING, "False", reasons.INVALID_SPEC)
    assert cond.message.startswith("spec.retraining.promote:")
    assert [e.reason for e in outcome.events] == [reasons.INVALID_SPEC]
    said = {"conditions": [{"type": cond.type, "status": cond.status, "reason": cond.reason,
                            "message": cond.message}]}
    assert _run(said, body=body).events == ()  # said once, not on every tick


def test_the_conditions_a_retraining_trigger_answers() -> None:
    body = _body()
    # The confidence shift an input drift causes is answered by the drift's retraining.
    assert answered_conditions(body) == {reasons.DRIFTED, reasons.ACCURACY_LOW, reasons.COST_HIGH,
                                         reasons.CONFIDENCE_SHIFT}
    body["spec"]["retraining"]["triggers"]["accuracy"] = False
    body["spec"]["retraining"]["triggers"]["cost"] = False
    assert answered_conditions(body) == {reasons.DRIFTED, reasons.CONFIDENCE_SHIFT}
    body["spec"]["retraining"]["triggers"]["drift"] = False
    assert answered_conditions(body) == frozenset()
    body["spec"]["retraining"]["triggers"]["drift"] = True
    body["spec"]["retraining"]["enabled"] = False
    assert answered_conditions(body) == frozenset()
