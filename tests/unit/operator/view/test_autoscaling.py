"""spec.serving.autoscaling as the operator reads it (the CRD refuses the same
contradictions on the API server: tests/integration/operator/test_autoscaling.py)."""

from __future__ import annotations

from typing import Any

import pytest
from vigia_operator.view import SpecError, parse

from tests.unit.operator.schema import apply_defaults, defaulted_sample, schema


def _serving(**fields: Any) -> dict[str, Any]:
    body = defaulted_sample()
    serving = body["spec"]["serving"]
    del serving["replicas"]
    serving.update(fields)
    return body


def test_fixed_count_has_no_autoscaling_and_defaults_to_one() -> None:
    md = parse(_serving())
    assert (md.serving.replicas, md.serving.autoscaling) == (1, None)


def test_autoscaling_is_parsed_with_its_schema_default() -> None:
    body = _serving(autoscaling={"maxReplicas": 4, "target": {"requestsPerSecond": 20}})
    md = parse(apply_defaults(schema(), body))
    scaling = md.serving.autoscaling
    assert scaling is not None
    assert (scaling.min_replicas, scaling.max_replicas) == (1, 4)
    assert (scaling.cpu_utilization, scaling.requests_per_second) == (None, 20.0)
    assert md.serving.replicas == 1  # minReplicas: what a new stable Deployment starts with


@pytest.mark.parametrize(("fields", "field"), [
    ({"replicas": 2, "autoscaling": {"maxReplicas": 4, "target": {"cpuUtilization": 50}}},
     "spec.serving.replicas"),
    ({"autoscaling": {"minReplicas": 5, "maxReplicas": 4, "target": {"cpuUtilization": 50}}},
     "spec.serving.autoscaling.maxReplicas"),
    ({"autoscaling": {"maxReplicas": 4, "target": {}}}, "spec.serving.autoscaling.target"),
    ({"autoscaling": {"maxReplicas": 4, "target": {"cpuUtilization": 50,
                                                   "requestsPerSecond": 3}}},
     "spec.serving.autoscaling.target"),
    ({"autoscaling": {"maxReplicas": 4, "target": {"cpuUtilization": 0}}},
     "spec.serving.autoscaling.target.cpuUtilization"),
])
def test_contradictions_are_refused_naming_the_field(fields: dict[str, Any], field: str) -> None:
    with pytest.raises(SpecError) as refused:
        parse(_serving(**fields))
    assert refused.value.field == field


def test_crd_declares_the_rules_that_refuse_them() -> None:
    serving = schema()["properties"]["spec"]["properties"]["serving"]
    rules = {rule["rule"]: rule for rule in serving["x-kubernetes-validations"]}
    both = rules["!has(self.replicas) || !has(self.autoscaling)"]
    assert both["fieldPath"] == ".replicas"
    scaling = serving["properties"]["autoscaling"]
    (bounds,) = scaling["x-kubernetes-validations"]
    assert bounds["rule"] == "self.minReplicas <= self.maxReplicas"
    assert "default" not in serving["properties"]["replicas"]  # has() must mean "set"
