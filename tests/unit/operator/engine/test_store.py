"""The index store: every child kind's index is read, the HTTPRoute's included."""

from __future__ import annotations

from vigia_operator.core import resources as r
from vigia_operator.core.types import ModelRef
from vigia_operator.engine.observed import seen
from vigia_operator.engine.store import IndexStore

REF = ModelRef("ml", "iris")


def _child(kind: str, name: str) -> dict[str, object]:
    return {"kind": kind, "metadata": {"name": name, "namespace": "ml", "resourceVersion": "7",
                                       "labels": {r.LABEL_OWNER: "iris"}}}


def test_children_of_every_kind_come_from_their_index() -> None:
    indices: dict[str, dict[tuple[str, str], list[object]]] = {
        kind.index: {} for kind in r.CHILD_KINDS}
    indices[r.MODELS_INDEX] = {}
    for kind in r.CHILD_KINDS:
        indices[kind.index][("ml", "iris")] = [seen(_child(kind.kind, f"iris-{kind.plural}"))]
    found = IndexStore(indices).children(REF)
    assert set(found) == {(kind.kind, f"iris-{kind.plural}") for kind in r.CHILD_KINDS}
    assert ("HTTPRoute", "iris-httproutes") in found
    assert IndexStore(indices).children(ModelRef("ml", "other")) == {}


def test_the_route_is_a_child_kind_applied_after_the_services() -> None:
    assert r.HTTPROUTE in r.CHILD_KINDS
    assert r.WAVES["HTTPRoute"] > r.WAVES["Service"]
    assert r.WAVES["Job"] > r.WAVES["HTTPRoute"] == r.WAVES["Deployment"]
    assert set(r.HTTPROUTE.verbs) == {"get", "list", "watch", "create", "patch"}
    assert [k.kind for k in r.CHILD_KINDS if k.installed_by] == ["HTTPRoute"]
