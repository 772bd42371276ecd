"""The plan (pure): which desired children to apply, and which names are taken.

A child is the operator's only if its controller ownerReference is the ModelDeployment.
The plan never applies to an object of the right name that is not: it reports it as a
conflict (the object is someone else's, or another ModelDeployment's).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from vigia_operator.core.objects import ChildKey, contains, key_of

Obj = dict[str, Any]


@dataclass(frozen=True)
class Action:
    """Apply ``desired``: it is missing (create it), or its observed copy differs."""

    desired: Obj
    missing: bool

    @property
    def key(self) -> ChildKey:
        return key_of(self.desired)


@dataclass(frozen=True)
class Conflict:
    """An object holds a child's name but is not controlled by this ModelDeployment."""

    key: ChildKey
    controller: str | None  # "Kind/name" of its controller, None if it has none

    @property
    def message(self) -> str:
        kind, name = self.key
        held = f"is controlled by {self.controller}" if self.controller else "has no controller"
        return (f"{kind} {name} already exists and {held}; the operator does not modify "
                "objects it does not control (remove or rename it, or rename the "
                "ModelDeployment).")


@dataclass(frozen=True)
class Plan:
    actions: tuple[Action, ...]
    conflicts: tuple[Conflict, ...]
    # Children the spec no longer asks for, of a kind that must not outlive that (an HPA
    # left behind would fight the fixed replica count): (key, uid) to delete.
    deletions: tuple[tuple[ChildKey, str], ...] = ()


def controller_of(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    return next((ref for ref in refs if ref.get("controller")), None)


def controlled_by(obj: Mapping[str, Any], uid: str) -> bool:
    controller = controller_of(obj)
    return controller is not None and controller.get("uid") == uid


def conflict_with(obj: Mapping[str, Any]) -> Conflict:
    controller = controller_of(obj)
    held = None if controller is None else f"{controller.get('kind')}/{controller.get('name')}"
    return Conflict(key_of(obj), held)


def plan_applies(desired: Sequence[Obj], observed: Mapping[ChildKey, Mapping[str, Any]],
         owner_uid: str, removable: frozenset[str] = frozenset()) -> Plan:
    """The applies that bring observed children to the desired ones, in desired order, and
    the deletions of our children of a ``removable`` kind that are no longer desired."""
    actions: list[Action] = []
    conflicts: list[Conflict] = []
    for obj in desired:
        seen = observed.get(key_of(obj))
        if seen is None:
            actions.append(Action(obj, missing=True))
        elif not controlled_by(seen, owner_uid):
            conflicts.append(conflict_with(seen))
        elif not contains(seen, obj):
            actions.append(Action(obj, missing=False))
    wanted = {key_of(obj) for obj in desired}
    deletions = tuple(
        (key, str((seen.get("metadata") or {}).get("uid")))
        for key, seen in observed.items()
        if key[0] in removable and key not in wanted and controlled_by(seen, owner_uid))
    return Plan(tuple(actions), tuple(conflicts), deletions)
