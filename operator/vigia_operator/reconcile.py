"""Pure reconciliation: which desired objects differ from what is observed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from kubernetes.utils import parse_quantity

Obj = dict[str, Any]
ChildKey = tuple[str, str]  # (kind, name)


@dataclass(frozen=True)
class Action:
    """Apply ``desired``: it is missing, or its observed copy differs."""

    desired: Obj
    missing: bool

    @property
    def key(self) -> ChildKey:
        return key_of(self.desired)


def key_of(obj: Mapping[str, Any]) -> ChildKey:
    return (str(obj.get("kind")), str((obj.get("metadata") or {}).get("name")))


def plan(desired: list[Obj], observed: Mapping[ChildKey, Mapping[str, Any]]) -> list[Action]:
    """The applies that bring observed children to the desired ones, in desired order."""
    actions = []
    for obj in desired:
        seen = observed.get(key_of(obj))
        if seen is None:
            actions.append(Action(obj, missing=True))
        elif not contains(seen, obj):
            actions.append(Action(obj, missing=False))
    return actions


def contains(observed: Any, desired: Any) -> bool:
    """Whether every field set in ``desired`` has the same value in ``observed``.

    Fields only in ``observed`` (defaults, status, other managers' fields) are ignored;
    quantities compare by value, since the API server rewrites "0.5" as "500m".
    """
    if isinstance(desired, Mapping):
        return isinstance(observed, Mapping) and all(
            key in observed and contains(observed[key], value) for key, value in desired.items()
        )
    if isinstance(desired, list):
        return (
            isinstance(observed, list)
            and len(observed) == len(desired)
            and all(contains(o, d) for o, d in zip(observed, desired, strict=True))
        )
    if desired == observed and type(desired) is type(observed):
        return True
    return _same_quantity(observed, desired)


def differences(observed: Any, desired: Any, path: str = "") -> list[str]:
    """Paths of the desired fields that ``observed`` lacks or has another value for."""
    if isinstance(desired, Mapping) and isinstance(observed, Mapping):
        out: list[str] = []
        for key, value in desired.items():
            sub = f"{path}.{key}" if path else str(key)
            if key not in observed:
                out.append(sub)
            else:
                out.extend(differences(observed[key], value, sub))
        return out
    return [] if contains(observed, desired) else [path or "."]


def _same_quantity(a: Any, b: Any) -> bool:
    if not isinstance(a, str | int) or not isinstance(b, str | int):
        return False
    if isinstance(a, bool) or isinstance(b, bool):
        return False
    try:
        return bool(Decimal(parse_quantity(a)) == Decimal(parse_quantity(b)))
    except (ValueError, InvalidOperation, TypeError):
        return False
