from __future__ import annotations

import copy
from typing import Any

from vigia_operator.children import build_children
from vigia_operator.core.objects import key_of
from vigia_operator.decide.plan import controlled_by, plan_applies
from vigia_operator.view import parse

from tests.unit.operator.schema import defaulted_sample

MD = parse(defaulted_sample())
CHILDREN = build_children(MD)


def _observed() -> dict[Any, dict[str, Any]]:
    return {key_of(o): copy.deepcopy(o) for o in CHILDREN}


def test_an_object_without_our_controller_is_a_conflict_not_an_action() -> None:
    observed = _observed()
    service = observed[("Service", "sobaos")]
    service["metadata"]["ownerReferences"] = []  # a user's Service that carries our labels
    service["spec"]["ports"][0]["port"] = 8080
    planned = plan_applies(CHILDREN, observed, MD.uid)
    assert [a.key for a in planned.actions] == []
    (conflict,) = planned.conflicts
    assert conflict.key == ("Service", "sobaos") and conflict.controller is None
    assert "Service sobaos already exists and has no controller" in conflict.message


def test_another_controller_is_named() -> None:
    observed = _observed()
    deployment = observed[("Deployment", "sobaos-stable")]
    deployment["metadata"]["ownerReferences"] = [
        {"kind": "ModelDeployment", "name": "other", "uid": "u-2", "controller": True}]
    (conflict,) = plan_applies(CHILDREN, observed, MD.uid).conflicts
    assert conflict.controller == "ModelDeployment/other"
    assert "is controlled by ModelDeployment/other" in conflict.message


def test_controlled_by_needs_the_controller_flag() -> None:
    child = copy.deepcopy(CHILDREN[0])
    assert controlled_by(child, MD.uid)
    child["metadata"]["ownerReferences"][0]["controller"] = False
    assert not controlled_by(child, MD.uid)
    assert not controlled_by({"metadata": {}}, MD.uid)


def test_only_our_children_of_a_removable_kind_that_are_no_longer_desired_are_deleted() -> None:
    observed = _observed()
    ours: dict[str, Any] = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "sobaos-stable", "uid": "hpa-uid",
                         "ownerReferences": [{"controller": True, "uid": MD.uid}]}}
    theirs = copy.deepcopy(ours)
    theirs["metadata"].update(name="other", ownerReferences=[])
    observed[key_of(ours)] = ours
    observed[key_of(theirs)] = theirs
    observed[("Job", "old")] = {"kind": "Job", "metadata": {
        "name": "old", "ownerReferences": [{"controller": True, "uid": MD.uid}]}}
    planned = plan_applies(CHILDREN, observed, MD.uid, frozenset({"HorizontalPodAutoscaler"}))
    assert planned.deletions == ((("HorizontalPodAutoscaler", "sobaos-stable"), "hpa-uid"),)
    assert plan_applies(CHILDREN, observed, MD.uid).deletions == ()
