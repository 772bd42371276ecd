"""status.retraining: a candidate remembers the spec it was retrained under, and the
rollout takes it only while that spec stands."""

from __future__ import annotations

from datetime import UTC, datetime

from vigia_operator.core import reasons
from vigia_operator.decide.retraining.policy import Start, Trigger
from vigia_operator.decide.retraining.result import Candidate, RunResult
from vigia_operator.decide.retraining.state import RetrainingStatus
from vigia_operator.status import retraining as rs
from vigia_operator.view.model import Model

V1 = "pvc://bundles/sobaos/1"
CANDIDATE = Candidate("2", "pvc://bundles/sobaos/2", "sha256:" + "b" * 64,
                      "pvc://bundles/sobaos/2.report.json", "pvc://bundles/sobaos/2.report.html")


def _accepted(auto: bool) -> dict:
    trigger = Trigger(reasons.TRIGGER_DRIFT, "PSI 0.4 on flour_protein",
                      datetime(2026, 11, 23, tzinfo=UTC))
    state, _ = rs.started(RetrainingStatus(), Start(trigger, "sobaos-retrain-1"), "t0", V1)
    state, events = rs.finished(state, "sobaos-retrain-1",
                                RunResult("Accepted", "beats v1 by 0.09", CANDIDATE), "t1",
                                auto)
    assert events[0].reason == reasons.CANDIDATE_ACCEPTED
    return {"retraining": state.to_status()}


def test_the_candidate_records_the_spec_its_job_started_under() -> None:
    candidate = _accepted(auto=True)["retraining"]["candidate"]
    assert candidate["specUri"] == V1 and candidate["approved"] is True
    assert candidate["htmlReportUri"] == "pvc://bundles/sobaos/2.report.html"


def test_an_approved_candidate_is_next() -> None:
    nxt = rs.next_model(_accepted(auto=True), Model(uri=V1, digest=None, version="1"))
    assert nxt == Model(uri=CANDIDATE.uri, digest=CANDIDATE.digest, version="2")


def test_a_candidate_waiting_for_approval_is_not() -> None:
    assert rs.next_model(_accepted(auto=False), Model(uri=V1, digest=None, version="1")) is None


def test_a_candidate_already_in_the_spec_is_not() -> None:
    current = Model(uri=CANDIDATE.uri, digest=None, version="2")
    assert rs.next_model(_accepted(auto=True), current) is None


def test_a_model_the_user_set_since_wins() -> None:
    current = Model(uri="pvc://bundles/sobaos/9", digest=None, version="9")
    assert rs.next_model(_accepted(auto=True), current) is None


def test_the_retraining_condition_follows_the_job() -> None:
    trigger = Trigger(reasons.TRIGGER_DRIFT, "PSI 0.4 on flour_protein",
                      datetime(2026, 11, 23, tzinfo=UTC))
    running, _ = rs.started(RetrainingStatus(), Start(trigger, "sobaos-retrain-1"), "t0", V1)
    found = rs.condition(running)
    assert found is not None and (found.status, found.reason) == ("True", "RetrainingStarted")
    assert "sobaos-retrain-1" in found.message and "PSI 0.4" in found.message
    done = rs.condition(RetrainingStatus.from_status(_accepted(auto=True)["retraining"]))
    assert done is not None and (done.status, done.reason) == ("False", "CandidateAccepted")
    assert "beats v1 by 0.09" in done.message
    waiting = rs.condition(RetrainingStatus.from_status(_accepted(auto=False)["retraining"]))
    assert waiting is not None and waiting.reason == "CandidateAwaitingApproval"
    assert rs.condition(RetrainingStatus()) is None
