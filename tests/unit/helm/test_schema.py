"""values.schema.json is strict and complete: every object refuses unknown keys, every value
has a description, values.yaml and the schema name the same keys, and every ci/ scenario
validates. Helm refuses values that break it, naming the value."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest

from tests.fixtures.helm import CHART, SCENARIOS, HelmError, load_yaml, template

SCHEMA: dict[str, Any] = json.loads((CHART / "values.schema.json").read_text())
VALUES: dict[str, Any] = load_yaml(CHART / "values.yaml")
PASSTHROUGH = {"global"}  # Helm's parent-chart values: free-form on purpose


def schemas(node: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every (sub)schema under the root with its dotted path; array items as path[]."""
    yield path, node
    for name, sub in node.get("properties", {}).items():
        if name not in PASSTHROUGH:
            yield from schemas(sub, f"{path}.{name}".lstrip("."))
    if isinstance(node.get("items"), dict):
        yield from schemas(node["items"], f"{path}[]")


def keys(values: Any, path: str = "") -> Iterator[str]:
    if isinstance(values, dict) and values:
        for name, sub in values.items():
            yield from keys(sub, f"{path}.{name}".lstrip("."))
    else:
        yield path


def schema_at(path: str) -> dict[str, Any] | None:
    node: dict[str, Any] = SCHEMA
    for part in path.split("."):
        props = node.get("properties")
        if props is None:  # a map (e.g. resources.requests) or free-form: no deeper schema
            return node
        if part not in props:
            return None
        node = props[part]
    return node


def test_every_object_refuses_unknown_keys() -> None:
    loose = [path or "(root)" for path, node in schemas(SCHEMA)
             if "properties" in node and node.get("additionalProperties") is not False]
    assert loose == []


def test_maps_hold_only_strings() -> None:
    maps = [(path, node) for path, node in schemas(SCHEMA)
            if isinstance(node.get("additionalProperties"), dict)]
    assert maps, "no maps found: the walk is broken"
    assert all(node["additionalProperties"] == {"type": "string"} for _, node in maps)


def test_every_value_has_a_description() -> None:
    missing = [path for path, node in schemas(SCHEMA)
               if path and not path.endswith("]") and not node.get("description")]
    assert missing == []


def test_values_yaml_and_schema_name_the_same_keys() -> None:
    unknown = [k for k in keys(VALUES) if schema_at(k) is None]
    assert unknown == []
    # Resources' requests and limits are optional by nature (no cpu limit by default).
    leaves = [p for p, node in schemas(SCHEMA) if p and "[]" not in p
              and "properties" not in node and ".resources." not in p]
    undocumented = [p for p in leaves if not _has(VALUES, p)]
    assert undocumented == []


def _has(values: Any, path: str) -> bool:
    for part in path.split("."):
        if not isinstance(values, dict) or part not in values:
            return False
        values = values[part]
    return True


def test_defaults_and_every_scenario_validate() -> None:
    jsonschema.validate(VALUES, SCHEMA)
    assert len(SCENARIOS) >= 5
    for scenario in SCENARIOS:
        jsonschema.validate(load_yaml(scenario) or {}, SCHEMA)


@pytest.mark.parametrize(("setting", "named"), [
    ("operator.tickSecond=30", "tickSecond"),                 # a typo: unknown key
    ("operator.tickSeconds=2", "tickSeconds"),                # below the minimum
    ("operator.secretLabel=novalue", "secretLabel"),          # not key=value
    ("operator.prometheusUrl=prometheus:9090", "prometheusUrl"),  # no scheme
    ("store.postgresql.persistence.size=lots", "size"),
    ("operator.watchNamespaces={Team_A}", "watchNamespaces"),
    ("image.pullPolicy=Sometimes", "pullPolicy"),
])
def test_helm_refuses_bad_values_naming_them(setting: str, named: str) -> None:
    with pytest.raises(HelmError) as refused:
        template(sets=[setting])
    assert "values don't meet the specifications of the schema" in refused.value.stderr
    assert named in refused.value.stderr
