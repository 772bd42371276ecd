"""The CRD is the one source of truth: these tests hold the code and the docs to it."""

from __future__ import annotations

import re
from typing import Any

import jsonschema
import pytest
from croniter import croniter
from vigia_operator.core import resources as r
from vigia_operator.view import parse
from vigia_operator.view.policy import ALLOWED_URI_SCHEMES, pvc_location

from tests.unit.operator import schema as s


def test_names_match_the_code() -> None:
    crd = s.crd()
    assert crd["metadata"]["name"] == f"{r.PLURAL}.{r.GROUP}"
    assert crd["spec"]["group"] == r.GROUP
    assert crd["spec"]["scope"] == "Namespaced"
    names = crd["spec"]["names"]
    assert (names["kind"], names["plural"], names["shortNames"]) == (r.KIND, r.PLURAL, ["md"])
    version = s.version()
    assert version["name"] == r.VERSION and version["served"] and version["storage"]
    assert version["subresources"] == {"status": {}, "scale": {
        "specReplicasPath": ".spec.serving.replicas",
        "statusReplicasPath": ".status.serving.replicas",
        "labelSelectorPath": ".status.serving.selector"}}


def test_printer_columns() -> None:
    columns = {c["name"]: c["jsonPath"] for c in s.version()["additionalPrinterColumns"]}
    assert columns == {
        "Ready": ".status.serving.readyReplicas",
        "Desired": ".status.serving.replicas",
        "Stable": ".status.stable.version",
        "Canary": ".status.canary.weight",
        "Drift": ".status.monitoring.drift.score",
        "Accuracy": ".status.monitoring.accuracy",
        "Phase": ".status.phase",
        "Age": ".metadata.creationTimestamp",
    }
    # Every column, and the scale subresource's paths, point at fields the schema declares.
    scale = s.version()["subresources"]["scale"]
    for path in [*columns.values(), scale["statusReplicasPath"], scale["labelSelectorPath"]]:
        if path.startswith(".status"):
            node: dict[str, Any] = s.schema()
            for part in path.strip(".").split("."):
                node = node["properties"][part]


def test_every_field_is_described() -> None:
    # The API server forbids anything but the type on metadata.
    undescribed = [path for path, node in s.nodes(s.schema())
                   if not node.get("description") and path != "metadata"]
    assert undescribed == []


def test_spec_sections_exist() -> None:
    spec = s.schema()["properties"]["spec"]["properties"]
    assert set(spec) == {"model", "serving", "rollout", "monitoring", "retraining", "export"}
    status = s.schema()["properties"]["status"]["properties"]
    assert {"observedGeneration", "phase", "conditions", "stable", "canary", "monitoring",
            "retraining", "history"} <= set(status)


def test_defaults_are_valid() -> None:
    for _path, node in s.nodes(s.schema()):
        if "default" in node:
            jsonschema.Draft4Validator(node).validate(s.apply_defaults(node, node["default"]))


def test_sample_validates_and_parses() -> None:
    sample = s.sample()
    jsonschema.Draft4Validator(s.schema()).validate(sample)
    defaulted = s.defaulted_sample()
    jsonschema.Draft4Validator(s.schema()).validate(defaulted)
    md = parse(defaulted)
    assert md.model.uri == sample["spec"]["model"]["uri"]
    assert md.serving.image == "vigia/vigia:0.1.0"


def test_minimal_resource_is_complete_after_defaults() -> None:
    minimal = {"apiVersion": r.API_VERSION, "kind": r.KIND,
               "metadata": {"name": "m", "namespace": "n", "uid": "u", "generation": 1},
               "spec": {"model": {"uri": "s3://bucket/iris/v3"}}}
    md = parse(s.apply_defaults(s.schema(), minimal))
    assert md.model.version == "v3"
    assert md.serving.replicas == 1
    assert md.serving.resources["limits"]["memory"] == "1Gi"


def _cel_regex(field_path: str) -> re.Pattern[str]:
    """The regular expression of the CEL `matches` rule on a field."""
    for path, rule, _ in s.rules(s.schema()):
        if path == field_path:
            found = re.search(r'matches\(r"(.*?)"\)', rule)
            if found:
                return re.compile(found.group(1))
    raise AssertionError(f"no matches() rule on {field_path}")


@pytest.mark.parametrize("expression", [
    "0 3 * * 1", "*/5 * * * *", "0 0 1 1 *", "0 9-17/2 * * MON-FRI", "@weekly",
    "0,30 1,13 * * 0-6", "15 2 1-7 jan,jul sun",
])
def test_cron_rule_accepts_what_croniter_accepts(expression: str) -> None:
    assert _cel_regex("spec.retraining.triggers.schedule").match(expression)
    assert croniter.is_valid(expression)


@pytest.mark.parametrize("expression", [
    "60 * * * *", "* 24 * * *", "* * 0 * *", "* * * 13 *", "* * * * 8", "* * *",
    "0 3 * * 1 2", "every day", "@sometimes", "",
])
def test_cron_rule_refuses(expression: str) -> None:
    assert not _cel_regex("spec.retraining.triggers.schedule").match(expression)


@pytest.mark.parametrize(("value", "ok"), [
    ("2m", True), ("30s", True), ("1h30m", True), ("500ms", True),
    ("2", False), ("2 m", False), ("-1m", False), ("2d", False), ("m", False),
])
def test_duration_rule(value: str, ok: bool) -> None:
    assert bool(_cel_regex("spec.rollout.steps[].pause").match(value)) is ok


@pytest.mark.parametrize(("uri", "ok"), [
    ("file:///models/iris/v1", True), ("s3://bucket/x", True), ("pvc://models/iris/v1", True),
    ("/models/iris", False), ("s3://bucket/a b", False), ("3s://x", False),
    ("http://example.com/m.bentomodel", False), ("memory://m", False), ("gs://b/m", False),
])
def test_uri_rule_is_the_scheme_allow_list(uri: str, ok: bool) -> None:
    assert bool(_cel_regex("spec.model.uri").match(uri)) is ok
    # The same list as the operator's policy and the loader's.
    scheme = uri.split("://")[0] if "://" in uri else None
    assert (scheme in ALLOWED_URI_SCHEMES) is ok or " " in uri


def _pvc_rule_accepts(uri: str) -> bool:
    (rule,) = [rule for path, rule, _ in s.rules(s.schema())
               if path == "spec.model.uri" and "pvc://" in rule and "startsWith" in rule]
    must, *must_not = re.findall(r'matches\(r"(.*?)"\)', rule)
    return bool(re.match(must, uri)) and not any(re.match(p, uri) for p in must_not)


@pytest.mark.parametrize("uri", [
    "pvc://models/iris/v1.bentomodel", "pvc://bundles.team-a/x", "pvc://m/a/b/c"])
def test_pvc_rule_accepts_what_the_builder_mounts(uri: str) -> None:
    assert _pvc_rule_accepts(uri)
    assert pvc_location(uri)


@pytest.mark.parametrize("uri", [
    "pvc://models", "pvc://models/", "pvc://Models/x", "pvc://models/../etc/passwd",
    "pvc://models/a/./b", "pvc://models/a//b", "pvc://models/a/..",
])
def test_pvc_rule_refuses_what_the_builder_refuses(uri: str) -> None:
    assert not _pvc_rule_accepts(uri)
    with pytest.raises(ValueError):
        pvc_location(uri)


def test_digest_pattern() -> None:
    pattern = re.compile(s.schema()["properties"]["spec"]["properties"]["model"]
                         ["properties"]["digest"]["pattern"])
    assert pattern.match("sha256:" + "a" * 64)
    assert not pattern.match("sha256:" + "A" * 64)
    assert not pattern.match("md5:" + "a" * 32)
