"""The Events of one apply: which change is a new model, a rollout's resize, a restore."""

from __future__ import annotations

from typing import Any

from vigia_operator.core import reasons
from vigia_operator.core import resources as r
from vigia_operator.decide.plan import Action
from vigia_operator.engine.reconcile import announce


def deployment(uri: str, replicas: int) -> dict[str, Any]:
    return {"kind": "Deployment",
            "metadata": {"name": "iris-stable", "annotations": {r.ANNOTATION_MODEL_URI: uri}},
            "spec": {"replicas": replicas}}


def reasons_of(before: dict[str, Any] | None, desired: dict[str, Any], *, spec_changed: bool,
               rolling: bool = False) -> list[str]:
    action = Action(desired, missing=before is None)
    return [e.reason for e in announce(action, before, spec_changed, rolling=rolling)]


def test_a_promotion_is_a_model_change_even_without_a_spec_change() -> None:
    events = announce(Action(deployment("s3://m/v2", 2), missing=False),
                      deployment("s3://m/v1", 2), spec_changed=False)
    assert [e.reason for e in events] == [reasons.MODEL_CHANGED]
    assert "from s3://m/v1 to s3://m/v2 on Deployment iris-stable" in events[0].message


def test_a_rollouts_resize_is_not_a_restore() -> None:
    before, desired = deployment("s3://m/v1", 4), deployment("s3://m/v1", 3)
    assert reasons_of(before, desired, spec_changed=False, rolling=True) == []
    assert reasons_of(before, desired, spec_changed=False) == [reasons.RESTORED]


def test_a_hand_edit_during_a_rollout_is_still_reported() -> None:
    before = deployment("s3://m/v1", 4)
    before["spec"]["paused"] = True
    desired = deployment("s3://m/v1", 3)
    desired["spec"]["paused"] = False
    assert reasons_of(before, desired, spec_changed=False, rolling=True) == [reasons.RESTORED]


def test_created_and_updated_when_the_spec_changed() -> None:
    assert reasons_of(None, deployment("s3://m/v1", 1), spec_changed=True) == [reasons.CREATED]
    assert reasons_of(deployment("s3://m/v1", 1), deployment("s3://m/v1", 2),
                      spec_changed=True) == [reasons.UPDATED]


def test_a_canary_a_rollout_brings_in_is_created_not_restored() -> None:
    canary = deployment("s3://m/v2", 1)
    canary["metadata"]["name"] = "iris-canary"
    action = Action(canary, missing=True)
    (event,) = announce(action, None, spec_changed=False, rolling=True, introduced=True)
    assert (event.type, event.reason, event.message) == (
        reasons.NORMAL, reasons.CREATED, "Deployment iris-canary")


def test_a_canary_deleted_during_its_rollout_is_restored() -> None:
    canary = deployment("s3://m/v2", 1)
    canary["metadata"]["name"] = "iris-canary"
    (event,) = announce(Action(canary, missing=True), None, spec_changed=False, rolling=True,
                        introduced=False)
    assert (event.type, event.reason) == (reasons.WARNING, reasons.RESTORED)
    assert event.message == "Deployment iris-canary was deleted; re-created it."


def test_introduced_does_not_hide_a_hand_edit() -> None:
    before = deployment("s3://m/v1", 1)
    before["spec"]["paused"] = True
    assert reasons_of(before, deployment("s3://m/v1", 1), spec_changed=False) == [
        reasons.RESTORED]
    events = announce(Action(deployment("s3://m/v1", 1), missing=False), before,
                      spec_changed=False, introduced=True)
    assert [e.reason for e in events] == [reasons.RESTORED]


def route(weights: tuple[int, int], path: str = "/") -> dict[str, Any]:
    backends = [{"group": "", "kind": "Service", "name": f"iris-{track}", "port": 80,
                 "weight": weight} for track, weight in zip(("stable", "canary"), weights,
                                                            strict=True)]
    return {"kind": r.HTTPROUTE.kind, "metadata": {"name": "iris"},
            "spec": {"rules": [{"matches": [{"path": {"type": "PathPrefix", "value": path}}],
                                "backendRefs": backends}]}}


def test_a_rollouts_route_weights_are_not_a_restore() -> None:
    before, desired = route((100, 0)), route((90, 10))
    assert reasons_of(before, desired, spec_changed=False, rolling=True) == []
    (event,) = announce(Action(desired, missing=False), before, spec_changed=False)
    assert (event.type, event.reason) == (reasons.WARNING, reasons.RESTORED)
    assert event.message == "HTTPRoute iris was changed (spec.rules); restored it."


def test_a_route_edit_beyond_its_weights_during_a_rollout_is_still_reported() -> None:
    before, desired = route((100, 0), path="/admin"), route((90, 10))
    assert reasons_of(before, desired, spec_changed=False, rolling=True) == [reasons.RESTORED]


def test_a_deleted_route_is_re_created_and_reported() -> None:
    (event,) = announce(Action(route((100, 0)), missing=True), None, spec_changed=False)
    assert (event.type, event.reason, event.message) == (
        reasons.WARNING, reasons.RESTORED, "HTTPRoute iris was deleted; re-created it.")
