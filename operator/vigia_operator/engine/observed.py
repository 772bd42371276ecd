"""What the engine keeps of an observed object (pure): the object without its
managedFields, as compact JSON (a parsed Deployment takes ten times the memory; the
engine parses it when it reconciles), and the spec fields someone else set by hand."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from vigia_operator.core import resources as r

Obj = dict[str, Any]


@dataclass(frozen=True)
class Seen:
    raw: bytes
    name: str
    hand_edits: tuple[str, ...]
    owner: str | None  # the owner label: which ModelDeployment it belongs to
    resource_version: str | None

    @property
    def body(self) -> Obj:
        """A fresh parsed copy (callers may change it)."""
        return dict(json.loads(self.raw))


def seen(obj: Mapping[str, Any]) -> Seen:
    """The index entry of a child: managedFields are large and never compared, so they
    are dropped once the hand edits are read from them."""
    meta = obj.get("metadata") or {}
    return Seen(compact(obj), str(meta.get("name")), hand_edits(meta.get("managedFields") or []),
                (meta.get("labels") or {}).get(r.LABEL_OWNER), meta.get("resourceVersion"))


def compact(obj: Mapping[str, Any]) -> bytes:
    return json.dumps(slim(obj), separators=(",", ":")).encode()


def slim(obj: Mapping[str, Any]) -> Obj:
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k != "managedFields"}
    return {**{k: v for k, v in obj.items() if k != "metadata"}, "metadata": meta}


def hand_edits(managed_fields: list[Mapping[str, Any]]) -> tuple[str, ...]:
    """Spec fields owned by another field manager than the operator.

    After the operator's forced apply it owns every field it sets, so what others still
    own in ``spec`` are fields it does not set (extra args, initContainers, a
    nodeSelector...). Subresource writes (status, scale) are not hand edits of the spec.
    """
    paths: set[str] = set()
    for entry in managed_fields:
        if entry.get("manager") == r.FIELD_MANAGER or entry.get("subresource"):
            continue
        spec = (entry.get("fieldsV1") or {}).get("f:spec")
        if isinstance(spec, Mapping):
            paths.update(_paths(spec, "spec"))
    return tuple(sorted(paths))


def _paths(node: Mapping[str, Any], prefix: str) -> list[str]:
    items = [key for key in node if key.startswith("k:")]
    if "." in node and items:  # a list someone created: name its items
        return [prefix + _step(key) for key in items]
    if not node or "." in node:
        return [prefix]
    out: list[str] = []
    for key, sub in node.items():
        out.extend(_paths(sub if isinstance(sub, Mapping) else {}, prefix + _step(key)))
    return out


def _step(key: str) -> str:
    kind, _, rest = key.partition(":")
    if kind == "f":
        return f".{rest}"
    if kind == "k":
        try:
            values = json.loads(rest).values()
            return "[" + ",".join(str(v) for v in values) + "]"
        except (ValueError, AttributeError):
            return f"[{rest}]"
    return f"[{rest}]"
