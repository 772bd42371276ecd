"""Comparing a desired object with an observed one (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Final

Obj = dict[str, Any]
ChildKey = tuple[str, str]  # (kind, name)

# Values the API server leaves out of what it returns (omitempty): desired but absent is
# the same as desired.
ZERO_VALUES: Final = (False, None)
_SUFFIXES: Final[dict[str, Decimal]] = {
    "Ki": Decimal(2**10), "Mi": Decimal(2**20), "Gi": Decimal(2**30), "Ti": Decimal(2**40),
    "Pi": Decimal(2**50), "Ei": Decimal(2**60), "n": Decimal("1e-9"), "u": Decimal("1e-6"),
    "m": Decimal("1e-3"), "": Decimal(1), "k": Decimal(10**3), "M": Decimal(10**6),
    "G": Decimal(10**9), "T": Decimal(10**12), "P": Decimal(10**15), "E": Decimal(10**18),
}


def contains(observed: Any, desired: Any) -> bool:
    """Whether every field set in ``desired`` has the same value in ``observed``.

    Fields only in ``observed`` (defaults, status, other managers' fields) are ignored;
    quantities compare by value, since the API server rewrites "0.5" as "500m".
    """
    if isinstance(desired, Mapping):
        return isinstance(observed, Mapping) and all(
            contains(observed[key], value) if key in observed else _omitted(value)
            for key, value in desired.items()
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
                if not _omitted(value):
                    out.append(sub)
            else:
                out.extend(differences(observed[key], value, sub))
        return out
    return [] if contains(observed, desired) else [path or "."]


def key_of(obj: Mapping[str, Any]) -> ChildKey:
    return (str(obj.get("kind")), str((obj.get("metadata") or {}).get("name")))


def _omitted(value: Any) -> bool:
    return any(value is zero for zero in ZERO_VALUES)


def parse_quantity(value: str | int) -> Decimal:
    """A Kubernetes quantity ("250m", "1Gi", "1e3", 2) as a number."""
    text = str(value).strip()
    number = text.rstrip("kKMGTPEinum")
    suffix = text[len(number):]
    if suffix not in _SUFFIXES or not number:
        raise ValueError(f"not a quantity: {value!r}")
    return Decimal(number) * _SUFFIXES[suffix]


def _same_quantity(a: Any, b: Any) -> bool:
    if not isinstance(a, str | int) or not isinstance(b, str | int):
        return False
    if isinstance(a, bool) or isinstance(b, bool):
        return False
    try:
        return parse_quantity(a) == parse_quantity(b)
    except (ValueError, InvalidOperation, TypeError):
        return False
