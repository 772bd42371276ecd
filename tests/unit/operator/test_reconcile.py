from __future__ import annotations

import copy

from vigia_operator.builders import build_children
from vigia_operator.reconcile import contains, differences, key_of, plan
from vigia_operator.spec import parse

from tests.unit.operator.schema import defaulted_sample

CHILDREN = build_children(parse(defaulted_sample()))


def _as_stored(obj: dict) -> dict:
    """What the API server returns: defaults added, quantities normalised, status."""
    stored = copy.deepcopy(obj)
    stored["metadata"]["uid"] = "x"
    stored["metadata"]["managedFields"] = []
    if obj["kind"] == "Deployment":
        pod = stored["spec"]["template"]["spec"]
        pod["dnsPolicy"] = "ClusterFirst"
        pod["containers"][0]["resources"]["requests"]["cpu"] = "0.25"
        stored["status"] = {"replicas": 1}
    return stored


def test_nothing_to_do_when_all_match() -> None:
    observed = {key_of(o): _as_stored(o) for o in CHILDREN}
    assert plan(CHILDREN, observed) == []


def test_missing_and_edited_children() -> None:
    observed = {key_of(o): _as_stored(o) for o in CHILDREN}
    del observed[("Service", "sobaos")]
    deployment = observed[("Deployment", "sobaos-stable")]
    deployment["spec"]["replicas"] = 5
    actions = plan(CHILDREN, observed)
    assert [(a.key, a.missing) for a in actions] == [
        (("Service", "sobaos"), True), (("Deployment", "sobaos-stable"), False)
    ]
    assert differences(deployment, actions[1].desired) == ["spec.replicas"]


def test_contains() -> None:
    assert contains({"a": 1, "b": 2}, {"a": 1})
    assert not contains({"a": 1}, {"a": 1, "b": 2})
    assert not contains({"a": [1, 2, 3]}, {"a": [1, 2]})
    assert contains({"cpu": "500m"}, {"cpu": "0.5"})
    assert contains({"memory": "1Gi"}, {"memory": "1024Mi"})
    assert not contains({"memory": "1G"}, {"memory": "1Gi"})
    assert not contains({"x": True}, {"x": 1})
    assert not contains({"name": "http"}, {"name": "https"})


def test_removed_label_is_a_difference() -> None:
    stored = _as_stored(CHILDREN[1])
    stored["metadata"]["labels"].pop("app.kubernetes.io/managed-by")
    assert differences(stored, CHILDREN[1]) == ["metadata.labels.app.kubernetes.io/managed-by"]
