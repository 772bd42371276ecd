"""spec.rollout read into typed values; bad input names its field."""

from __future__ import annotations

import pytest
from vigia_operator.view import SpecError
from vigia_operator.view.rollout import parse_command, parse_rollout

from tests.unit.operator.schema import defaulted_sample


def test_the_defaulted_sample_parses() -> None:
    spec = parse_rollout(defaulted_sample()["spec"])
    assert spec.router == "Replicas" and spec.steps[0].weight < spec.steps[-1].weight
    assert spec.analysis.on_no_data == "Inconclusive"
    assert spec.analysis.gates.error_rate is not None


def test_gateway_router_reads_the_route() -> None:
    spec = parse_rollout({"rollout": {"traffic": {"router": "GatewayAPI", "httpRoute": {
        "name": "iris", "parentRefs": [{"name": "gw", "namespace": "infra"}],
        "hostnames": ["iris.example.com"]}}}})
    assert spec.http_route is not None
    assert spec.http_route.parent_refs[0].namespace == "infra"
    assert spec.http_route.hostnames == ("iris.example.com",)


@pytest.mark.parametrize(("rollout", "field"), [
    ({"steps": [{"weight": 50}, {"weight": 10}]}, "spec.rollout.steps[1].weight"),
    ({"steps": [{"weight": 0}]}, "spec.rollout.steps[0].weight"),
    ({"steps": [{"weight": 10, "pause": "soon"}]}, "spec.rollout.steps[0].pause"),
    ({"traffic": {"router": "Istio"}}, "spec.rollout.traffic.router"),
    ({"traffic": {"router": "GatewayAPI"}}, "spec.rollout.traffic.httpRoute"),
    ({"analysis": {"onNoData": "Maybe"}}, "spec.rollout.analysis.onNoData"),
    ({"analysis": {"failureLimit": 0}}, "spec.rollout.analysis.failureLimit"),
    ({"analysis": {"skipGates": ["speed"]}}, "spec.rollout.analysis.skipGates[0]"),
    ({"analysis": {"gates": {"errorRate": "low"}}}, "spec.rollout.analysis.gates.errorRate"),
])
def test_bad_input_names_the_field(rollout, field) -> None:
    with pytest.raises(SpecError) as raised:
        parse_rollout({"rollout": rollout})
    assert raised.value.field == field


def test_command_annotation() -> None:
    assert parse_command({"vigia.dev/rollout": " Promote "}) == "promote"
    assert parse_command({"other": "x"}) is None
    assert parse_command(None) is None
    assert parse_command({"vigia.dev/rollout": ""}) is None


def test_the_crd_defaults_are_the_code_defaults() -> None:
    assert parse_rollout(defaulted_sample()["spec"]) == parse_rollout(
        {"rollout": {"steps": defaulted_sample()["spec"]["rollout"]["steps"]}})


def test_skip_gates_enum_is_the_gate_names() -> None:
    from vigia_operator.view.rollout import GATE_NAMES

    from tests.unit.operator import schema as s

    analysis = s.schema()["properties"]["spec"]["properties"]["rollout"]["properties"][
        "analysis"]["properties"]
    assert tuple(analysis["skipGates"]["items"]["enum"]) == GATE_NAMES
