from __future__ import annotations

from vigia_operator.builders import build_children
from vigia_operator.resync import group_children
from vigia_operator.spec import parse

from tests.unit.operator.schema import defaulted_sample


def test_children_are_grouped_by_owner() -> None:
    ours = build_children(parse(defaulted_sample()))
    stray = {"apiVersion": "v1", "kind": "ConfigMap",
             "metadata": {"name": "x", "namespace": "ml", "labels": {}}}
    grouped = group_children([*ours, stray])
    assert list(grouped) == [("ml", "sobaos")]
    assert set(grouped[("ml", "sobaos")]) == {
        ("ServiceAccount", "sobaos-server"), ("ConfigMap", "sobaos-server"),
        ("Service", "sobaos"), ("Deployment", "sobaos-stable"),
    }
