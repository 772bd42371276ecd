"""Merging sections: one section's write never clobbers another's fields or conditions."""

from __future__ import annotations

from typing import Any

from vigia_operator.core import reasons
from vigia_operator.core.types import Condition
from vigia_operator.status.compose import compose, phase_of
from vigia_operator.status.sections import SectionUpdate, StatusUpdate

PREVIOUS: dict[str, Any] = {
    "observedGeneration": 3,
    "phase": "Ready",
    "monitoring": {"drift": {"score": 0.4}},
    "history": [{"version": "v1", "outcome": "Promoted"}],
    "conditions": [
        {"type": "Drifted", "status": "True", "reason": "PSI", "message": "0.4",
         "lastTransitionTime": "t0", "observedGeneration": 3},
        {"type": "Ready", "status": "True", "reason": "Available", "message": "ok",
         "lastTransitionTime": "t0", "observedGeneration": 3},
    ],
}


def test_a_section_replaces_only_its_own_field_and_conditions() -> None:
    update = StatusUpdate((SectionUpdate(
        "serving", {"replicas": 2},
        (Condition(reasons.READY, "False", reasons.ROLLING_OUT, "1/2"),)),),
        observed_generation=4)
    status = compose(PREVIOUS, update, "t1")
    assert status["serving"] == {"replicas": 2}
    assert status["monitoring"] == PREVIOUS["monitoring"]
    assert status["history"] == PREVIOUS["history"]
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["Drifted"] == PREVIOUS["conditions"][0]  # untouched
    assert conditions["Ready"]["lastTransitionTime"] == "t1"
    assert conditions["Ready"]["observedGeneration"] == 4
    assert status["observedGeneration"] == 4
    assert status["phase"] == reasons.PHASE_PROGRESSING


def test_a_none_value_leaves_the_field() -> None:
    status = compose(PREVIOUS, StatusUpdate((SectionUpdate("monitoring", None),)), "t1")
    assert status["monitoring"] == PREVIOUS["monitoring"]
    assert status["observedGeneration"] == 3  # no generation given: kept
    assert status["conditions"] == PREVIOUS["conditions"]


def test_phase_follows_the_conditions() -> None:
    def conds(ready: str, degraded: str = "False", reason: str = "X",
              progressing: str = "False") -> list[dict[str, str]]:
        return [{"type": "Ready", "status": ready, "reason": reason},
                {"type": "Degraded", "status": degraded, "reason": reason},
                {"type": "Progressing", "status": progressing, "reason": reason}]

    assert phase_of(conds("True")) == reasons.PHASE_READY
    assert phase_of(conds("False", progressing="True")) == reasons.PHASE_PROGRESSING
    assert phase_of(conds("False", reason=reasons.DEPLOYMENT_PENDING)) == reasons.PHASE_PENDING
    assert phase_of(conds("True", "True", reasons.REPLICA_FAILURE)) == reasons.PHASE_DEGRADED
    assert phase_of(conds("False", "True", reasons.IMAGE_NOT_ALLOWED)) == reasons.PHASE_FAILED
    assert phase_of(conds("False", "True", reasons.OBJECT_CONFLICT)) == reasons.PHASE_FAILED
    assert phase_of([]) is None
