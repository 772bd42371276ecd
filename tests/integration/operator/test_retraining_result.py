"""The operator reads a retraining Job's result from a real termination message: one
written by `vigia-retrain` run for real (a process here; on kwok a Job's pod does not
run), put in the pod object the kubelet would report, and acted on."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from vigia_operator.core import reasons
from vigia_operator.core.resources import JOB_CONTAINER
from vigia_operator.decide.retraining.result import read_result
from vigia_operator.decide.retraining.state import RetrainingStatus
from vigia_operator.status import retraining as rs
from vigia_operator.view.model import Model
from vigia_testbed.retrain import (
    Current,
    drifted_feedback,
    job_env,
    run_job,
    sample_current,
    store_feedback,
)

from vigia.retraining import ExitCode

pytestmark = pytest.mark.integration
JOB = "sobaos-drift-202611231800"
AT = "2026-11-23T19:30:00Z"
JOB_UID = "5f0c9a57-0000-4000-8000-000000000001"


@pytest.fixture(scope="module")
def current(tmp_path_factory: pytest.TempPathFactory) -> Current:
    return sample_current(tmp_path_factory.mktemp("current"), rows=3000)


@pytest.fixture
def base_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("VIGIA_RETRAIN_")}


def _job(failed: bool) -> dict[str, Any]:
    cond = ({"type": "Failed", "status": "True", "reason": "PodFailurePolicy",
             "message": "Container retrain for pod x failed with exit code 3"} if failed
            else {"type": "Complete", "status": "True"})
    return {"metadata": {"name": JOB, "uid": JOB_UID}, "status": {"conditions": [cond]}}


def _pod(message: str, code: int) -> dict[str, Any]:
    owner = {"apiVersion": "batch/v1", "kind": "Job", "name": JOB, "uid": JOB_UID,
             "controller": True}
    return {"metadata": {"name": f"{JOB}-abcde", "creationTimestamp": AT,
                         "ownerReferences": [owner]},
            "status": {"containerStatuses": [{"name": JOB_CONTAINER, "state": {"terminated": {
                "exitCode": code, "message": message}}}]}}


def _previous() -> RetrainingStatus:
    return RetrainingStatus.from_status({
        "job": JOB, "lastTrigger": {"reason": "Drift", "at": AT, "message": "drifted"},
        "runs": [{"job": JOB, "trigger": "Drift", "startedAt": AT}]})


def test_accepted_candidate_is_recorded_and_next_with_auto(
    current: Current, tmp_path: Path, base_env: dict[str, str]
) -> None:
    store = f"sqlite:///{tmp_path}/predictions.db"
    records, labels = drifted_feedback(1000)
    store_feedback(store, records, labels)
    run = run_job(job_env(current, tmp_path, store, candidate_version=JOB), base_env=base_env)
    assert run.code == ExitCode.ACCEPTED, run.stderr[-2000:]
    message = run.termination.read_text()

    result = read_result(_job(failed=False), [_pod(message, 0)])
    assert result.verdict == "Accepted" and result.candidate is not None
    assert result.candidate.version == JOB
    assert result.candidate.digest == run.result["candidate"]["digest"]
    # The gate's numbers travel with it: said in one sentence, kept as fields.
    recent = run.result["metrics"]["recent"]
    assert result.message.startswith(
        f"{recent['current']['accuracy']:.1%} → {recent['candidate']['accuracy']:.1%} on "
        f"{recent['rows']:,} recent labelled items; ")
    assert "on the original holdout" in result.message and len(result.message) < 200
    assert result.metrics is not None and result.metrics.recent is not None
    assert result.metrics.recent.rows == recent["rows"]

    finished, events = rs.finished(_previous(), JOB, result, AT, auto=True)
    state = finished.to_status()
    assert state["candidate"]["uri"] == run.result["candidate"]["uri"]
    assert state["candidate"]["approved"] and state["runs"][0]["verdict"] == "Accepted"
    assert [e.reason for e in events] == [reasons.CANDIDATE_ACCEPTED]
    serving = Model(uri=current.uri, digest=current.digest, version="1")
    following = rs.next_model({rs.SECTION: state}, serving)
    assert following is not None and following.uri == state["candidate"]["uri"]
    assert following.digest == result.candidate.digest

    # Manual: the candidate waits for the annotation naming its version.
    waiting, events = rs.finished(_previous(), JOB, result, AT, auto=False)
    assert reasons.CANDIDATE_AWAITING_APPROVAL in [e.reason for e in events]
    assert rs.next_model({rs.SECTION: waiting.to_status()}, serving) is None
    wrong, _ = rs.approve(waiting, {rs.ANNOTATION_APPROVE: "another"}, AT)
    assert rs.next_model({rs.SECTION: wrong.to_status()}, serving) is None
    approved, events = rs.approve(waiting, {rs.ANNOTATION_APPROVE: JOB}, AT)
    assert [e.reason for e in events] == [reasons.CANDIDATE_APPROVED]
    assert rs.next_model({rs.SECTION: approved.to_status()}, serving) is not None


def test_refused_candidate_is_an_event_with_the_numbers(
    current: Current, tmp_path: Path, base_env: dict[str, str]
) -> None:
    run = run_job(job_env(current, tmp_path, None, include_feedback="false",
                          min_improvement="0.5"), base_env=base_env)
    assert run.code == ExitCode.REFUSED, run.stderr[-2000:]
    result = read_result(_job(failed=True), [_pod(run.termination.read_text(), run.code)])
    assert result.verdict == "Refused" and result.candidate is None
    holdout = run.result["metrics"]["holdout"]
    assert result.message.startswith(
        f"{holdout['current']['accuracy']:.1%} → {holdout['candidate']['accuracy']:.1%} on the "
        "original holdout, below the 50 points gain required")
    # The other checks it failed follow in their own words, in the same sentence.
    others = [r for r in run.result["reasons"] if r["code"] != "NotEnoughImprovement"]
    assert all(r["code"] in result.message for r in others)
    assert len(result.message) <= 200 and result.message.count(". ") == 0
    refused, events = rs.finished(_previous(), JOB, result, AT, auto=True)
    state = refused.to_status()
    assert "candidate" not in state and state["result"]["verdict"] == "Refused"
    (event,) = events
    assert (event.type, event.reason) == (reasons.WARNING, reasons.CANDIDATE_REFUSED)
    assert event.message == f"Candidate refused: {result.message}"
    assert state["result"]["metrics"]["minImprovement"] == 0.5


def test_invalid_input_is_refused_not_retried(tmp_path: Path, current: Current,
                                              base_env: dict[str, str]) -> None:
    run = run_job(job_env(current, tmp_path, None, dataset_uri=str(tmp_path / "missing.csv")),
                  base_env=base_env)
    assert run.code == ExitCode.INVALID_INPUT
    result = read_result(_job(failed=True), [_pod(run.termination.read_text(), run.code)])
    assert result.verdict == "Refused" and "InvalidInput" in result.message
