"""Events come from differences between two statuses, never from a repeated one."""

from __future__ import annotations

from typing import Any

from vigia_operator.core import reasons
from vigia_operator.status.events import events_for


def _status(*conds: tuple[str, str, str], **sections: Any) -> dict[str, Any]:
    return {"conditions": [{"type": t, "status": s, "reason": r, "message": f"{t} {r}"}
                           for t, s, r in conds], **sections}


def test_leaving_the_healthy_status_is_a_warning_with_the_reason() -> None:
    before = _status(("Drifted", "False", "WithinThreshold"))
    after = _status(("Drifted", "True", "DriftAboveThreshold"))
    assert [(e.type, e.reason) for e in events_for(before, after)] == [
        (reasons.WARNING, "DriftAboveThreshold")]
    assert events_for(after, after) == []


def test_unknown_after_known_is_announced_but_not_a_first_unknown() -> None:
    assert events_for({}, _status(("AccuracyLow", "Unknown", "InsufficientData"))) == []
    before = _status(("AccuracyLow", "False", "AboveMinimum"))
    after = _status(("AccuracyLow", "Unknown", "InsufficientData"))
    assert [e.reason for e in events_for(before, after)] == ["InsufficientData"]


def test_refusal_on_a_new_object_is_announced() -> None:
    after = _status(("Ready", "False", reasons.IMAGE_NOT_ALLOWED),
                    ("Degraded", "True", reasons.IMAGE_NOT_ALLOWED))
    assert [(e.type, e.reason) for e in events_for({}, after)] == [
        (reasons.WARNING, reasons.IMAGE_NOT_ALLOWED)]


def test_new_hand_edits_are_announced_once() -> None:
    edit = "Deployment m-stable: spec.template.spec.nodeSelector"
    before = _status(serving={"handEdits": []})
    after = _status(serving={"handEdits": [edit]})
    (event,) = events_for(before, after)
    assert (event.type, event.reason) == (reasons.WARNING, reasons.HAND_EDITED)
    assert edit in event.message
    assert events_for(after, after) == []
    assert events_for(after, before) == []  # an edit undone is no news


def test_ready_leaving_for_a_rollout_is_a_normal_event_with_its_reason() -> None:
    before = _status(("Ready", "True", reasons.AVAILABLE))
    after = _status(("Ready", "False", reasons.ROLLING_OUT))
    assert [(e.type, e.reason) for e in events_for(before, after)] == [
        (reasons.NORMAL, reasons.ROLLING_OUT)]
    lost = _status(("Ready", "False", reasons.REPLICAS_UNAVAILABLE))
    assert [(e.type, e.reason) for e in events_for(before, lost)] == [
        (reasons.WARNING, reasons.NOT_READY)]


def test_a_new_versions_first_samples_are_no_warning() -> None:
    before = _status(("Drifted", "True", reasons.FEATURES_DRIFTED))
    after = _status(("Drifted", "Unknown", reasons.INSUFFICIENT_DATA))
    assert [(e.type, e.reason) for e in events_for(before, after)] == [
        (reasons.NORMAL, reasons.INSUFFICIENT_DATA)]
    stale = _status(("Drifted", "Unknown", reasons.STALE_DATA))
    assert [e.type for e in events_for(before, stale)] == [reasons.WARNING]


def test_a_condition_the_operator_answers_itself_is_a_normal_event() -> None:
    before = _status(("Drifted", "False", reasons.NO_DRIFT),
                     ("AccuracyLow", "False", reasons.ACCURACY_OK))
    after = _status(("Drifted", "True", reasons.FEATURES_DRIFTED),
                    ("AccuracyLow", "True", reasons.ACCURACY_BELOW_MIN))
    answered = frozenset({reasons.DRIFTED})
    assert [(e.type, e.reason) for e in events_for(before, after, answered)] == [
        (reasons.NORMAL, reasons.FEATURES_DRIFTED), (reasons.WARNING, reasons.ACCURACY_BELOW_MIN)]


def test_a_version_without_a_calibration_check_is_no_warning() -> None:
    """A retrained bundle without a calibration check has no estimated accuracy: the status
    says so, nobody needs to act (the closed loop's happy path posts no Warning)."""
    before = _status((reasons.ESTIMATED_ACCURACY_LOW, "False", reasons.ESTIMATE_OK))
    after = _status((reasons.ESTIMATED_ACCURACY_LOW, "Unknown", reasons.NO_ESTIMATE))
    assert [(e.type, e.reason) for e in events_for(before, after)] == [
        (reasons.NORMAL, reasons.NO_ESTIMATE)]
