"""Status sections as frozen dataclasses, and their JSON (camelCase) both ways.

``to_json`` drops fields that are None (so a field a section no longer has goes, as null
in the writer's merge patch); ``from_json`` reads leniently what an older operator or a
person wrote: an unreadable record is None, an unreadable item of a list is left out,
never an exception.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from functools import cache
from typing import Any, TypeVar

R = TypeVar("R")


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def to_json(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {camel(f.name): to_json(getattr(value, f.name))
                for f in dataclasses.fields(value) if getattr(value, f.name) is not None}
    if isinstance(value, tuple | list):
        return [to_json(item) for item in value]
    if isinstance(value, Mapping):
        return {key: to_json(item) for key, item in value.items()}
    return value


def from_json(cls: type[R], data: Any) -> R | None:
    """A ``cls`` record from its JSON; None when it is not one (a required field missing)."""
    if not isinstance(data, Mapping):
        return None
    hints = _hints(cls)  # type: ignore[arg-type]
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        key = camel(f.name)
        if key in data and data[key] is not None:
            values[f.name] = _read(hints[f.name], data[key])
    try:
        return cls(**values)
    except TypeError:
        return None


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _read(hint: Any, value: Any) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        inner = [a for a in args if a is not type(None)]
        return _read(inner[0], value) if len(inner) == 1 else value
    if dataclasses.is_dataclass(hint):
        return from_json(hint, value)  # type: ignore[arg-type]
    if origin is tuple and isinstance(value, list):
        item = args[0]
        read = [_read(item, v) for v in value]
        return tuple(r for r in read if r is not None)
    return value
