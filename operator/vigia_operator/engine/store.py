"""What the engine reads instead of the API: the ModelDeployments and their children as
kopf's indexes hold them (kept current by the watches), so a reconcile without drift
makes no API call."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Protocol

from vigia_operator.core import resources as r
from vigia_operator.core.objects import ChildKey
from vigia_operator.core.types import ModelRef
from vigia_operator.engine.observed import Seen

Obj = dict[str, Any]


class Store(Protocol):
    def model(self, ref: ModelRef) -> Obj | None: ...

    def models(self) -> Iterator[Obj]: ...

    def children(self, ref: ModelRef) -> dict[ChildKey, Seen]: ...


class IndexStore:
    """Reads kopf's live index objects (``kopf.Index``: key -> store of values)."""

    def __init__(self, indices: Mapping[str, Any]) -> None:
        self._models = indices[r.MODELS_INDEX]
        self._children = [indices[kind.index] for kind in r.CHILD_KINDS]

    def model(self, ref: ModelRef) -> Obj | None:
        return _first(self._models.get((ref.namespace, ref.name), ()))

    def models(self) -> Iterator[Obj]:
        for key in list(self._models):
            found = _first(self._models.get(key, ()))
            if found is not None:
                yield found

    def children(self, ref: ModelRef) -> dict[ChildKey, Seen]:
        found: dict[ChildKey, Seen] = {}
        for kind, index in zip(r.CHILD_KINDS, self._children, strict=True):
            for entry in index.get((ref.namespace, ref.name), ()):
                found[(kind.kind, entry.name)] = entry
        return found


def _first(values: Iterable[bytes]) -> Obj | None:
    """The index holds compact JSON (see ``observed``)."""
    raw = next(iter(values), None)
    return None if raw is None else dict(json.loads(raw))
