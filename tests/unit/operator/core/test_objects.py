from __future__ import annotations

import copy

from vigia_operator.children import build_children
from vigia_operator.core.objects import contains, differences, key_of, parse_quantity
from vigia_operator.decide.plan import plan_applies
from vigia_operator.view import parse

from tests.unit.operator.schema import defaulted_sample

MD = parse(defaulted_sample())
CHILDREN = build_children(MD)


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
    planned = plan_applies(CHILDREN, observed, MD.uid)
    assert planned.actions == () and planned.conflicts == ()


def test_missing_and_edited_children() -> None:
    observed = {key_of(o): _as_stored(o) for o in CHILDREN}
    del observed[("Service", "sobaos")]
    deployment = observed[("Deployment", "sobaos-stable")]
    deployment["spec"]["replicas"] = 5
    actions = plan_applies(CHILDREN, observed, MD.uid).actions
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


def test_zero_values_the_api_server_leaves_out_match() -> None:
    # paused: false is desired (a paused rollout is resumed) but never returned.
    assert contains({"replicas": 1}, {"replicas": 1, "paused": False})
    assert not contains({"replicas": 1, "paused": True}, {"replicas": 1, "paused": False})
    assert differences({"paused": True}, {"paused": False}) == ["paused"]
    assert differences({}, {"paused": False}) == []


def test_quantities_without_the_client_library() -> None:
    assert parse_quantity("250m") == parse_quantity("0.25")
    assert parse_quantity("1Gi") == 1024 * parse_quantity("1Mi")
    assert parse_quantity("1e3") == parse_quantity("1k") == 1000
    for bad in ("", "Gi", "1Xi", "abc"):
        try:
            parse_quantity(bad)
        except (ValueError, ArithmeticError):
            continue
        raise AssertionError(f"{bad!r} parsed")
