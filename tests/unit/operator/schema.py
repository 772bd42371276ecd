"""The CRD's schema as the unit tests use it: loading, defaulting like the API server."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[3]
CRD_FILE = ROOT / "manifests" / "crd" / "modeldeployments.vigia.dev.yaml"
SAMPLE_FILE = ROOT / "manifests" / "samples" / "modeldeployment.yaml"


@cache
def crd() -> dict[str, Any]:
    return dict(yaml.safe_load(CRD_FILE.read_text()))


def version() -> dict[str, Any]:
    (only,) = crd()["spec"]["versions"]
    return dict(only)


def schema() -> dict[str, Any]:
    return dict(version()["schema"]["openAPIV3Schema"])


def sample() -> dict[str, Any]:
    return dict(yaml.safe_load(SAMPLE_FILE.read_text()))


def apply_defaults(node: dict[str, Any], value: Any) -> Any:
    """Fill in defaults as the API server does: missing properties get their default,
    and defaults are themselves defaulted."""
    value = copy.deepcopy(value)
    if isinstance(value, dict):
        for name, sub in (node.get("properties") or {}).items():
            if name not in value and "default" in sub:
                value[name] = copy.deepcopy(sub["default"])
            if name in value:
                value[name] = apply_defaults(sub, value[name])
    elif isinstance(value, list) and "items" in node:
        value = [apply_defaults(node["items"], item) for item in value]
    return value


def nodes(node: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema node below ``node`` with its path (items as ``[]``)."""
    for name, sub in (node.get("properties") or {}).items():
        child = f"{path}.{name}" if path else name
        yield child, sub
        yield from nodes(sub, child)
    if "items" in node:
        yield f"{path}[]", node["items"]
        yield from nodes(node["items"], f"{path}[]")


def rules(node: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    """(path, rule, message) of every CEL rule."""
    for path, sub in [("", node), *nodes(node)]:
        for rule in sub.get("x-kubernetes-validations") or []:
            yield path, rule["rule"], rule.get("message", "")


def defaulted_sample(**overrides: Any) -> dict[str, Any]:
    """The sample as the API server would store it, with server-set metadata."""
    obj = apply_defaults(schema(), sample())
    obj["metadata"].update(
        {"namespace": "ml", "uid": "0b7c0c5e-1111-2222-3333-444455556666", "generation": 1}
    )
    for dotted, value in overrides.items():
        target = obj
        *parents, last = dotted.split("__")
        for key in parents:
            target = target.setdefault(key, {})
        target[last] = value
    return dict(obj)


def undeclared(value: Any, node: dict[str, Any], path: str) -> list[str]:
    """Fields of ``value`` the schema does not declare: the API server would prune them."""
    if isinstance(value, dict):
        found = []
        for key, sub in value.items():
            declared = (node.get("properties") or {}).get(key) or node.get("additionalProperties")
            if not isinstance(declared, dict):
                found.append(f"{path}.{key}")
            else:
                found += undeclared(sub, declared, f"{path}.{key}")
        return found
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in undeclared(item, node["items"],
                                                                      f"{path}[{i}]")]
    return []


def json_schema(node: Any) -> Any:
    """A node of the CRD's structural schema as plain JSON Schema, for generators
    (hypothesis-jsonschema): int-or-string spelled out, Kubernetes' extensions and formats
    dropped (CEL rules cannot be generated; the API server judges them), and an object with
    properties closed, as the API server prunes unknown fields."""
    if isinstance(node, list):
        return [json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: json_schema(value) for key, value in node.items()
                 if not key.startswith("x-kubernetes-") and key not in ("format", "nullable")}
    if node.get("x-kubernetes-int-or-string"):
        converted["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if "properties" in node and not node.get("x-kubernetes-preserve-unknown-fields"):
        converted.setdefault("additionalProperties", False)
    if "properties" in converted:
        converted["properties"] = {name: json_schema(sub)
                                   for name, sub in node["properties"].items()}
    return converted
