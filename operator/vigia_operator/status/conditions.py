"""Status conditions, Kubernetes-style: how a list of them is updated and read.

Their types and reasons are in the catalogue, ``vigia_operator.core.reasons``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from vigia_operator.core.text import one_sentence
from vigia_operator.core.types import Condition


def merge(
    previous: Iterable[Mapping[str, Any]],
    updates: Iterable[Condition],
    *,
    now: str,
    generation: int | None,
) -> list[dict[str, Any]]:
    """The condition list after updates.

    lastTransitionTime changes only when a condition's status changes; conditions of
    other types (set by other parts of the operator) are kept as they are. A message is
    one sentence (``core.text.one_sentence``), whoever built it.
    """
    merged = {c["type"]: dict(c) for c in previous if "type" in c}
    for update in updates:
        old = merged.get(update.type)
        changed = old is None or old.get("status") != update.status
        entry: dict[str, Any] = {
            "type": update.type,
            "status": update.status,
            "reason": update.reason,
            "message": one_sentence(update.message),
            "lastTransitionTime": now if changed or old is None
            else old.get("lastTransitionTime", now),
        }
        if generation is not None:
            entry["observedGeneration"] = generation
        elif old is not None and "observedGeneration" in old:
            entry["observedGeneration"] = old["observedGeneration"]
        merged[update.type] = entry
    return list(merged.values())


def find(conditions: Iterable[Mapping[str, Any]], type_: str) -> Mapping[str, Any] | None:
    return next((c for c in conditions if c.get("type") == type_), None)

