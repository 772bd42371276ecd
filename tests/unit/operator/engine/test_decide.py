"""The decisions of a reconcile (pure): measurements picked by version, children planned."""

from __future__ import annotations

from datetime import UTC, datetime

from vigia_operator.core.config import OperatorSettings
from vigia_operator.core.types import CANARY, CANARY_ERROR, Signals
from vigia_operator.decide.rollout.gates import TrackMeasurements
from vigia_operator.engine.decide import (
    ChildrenDecision,
    Observation,
    decide_children,
    measured_from,
)
from vigia_operator.view import parse
from vigia_operator.view.retraining import parse_retraining

from tests.unit.operator.schema import defaulted_sample

STATUS = {"stable": {"version": "v1", "uri": "file:///m/v1"},
          "canary": {"version": "v2", "uri": "file:///m/v2"}}
NOW = datetime(2026, 11, 23, 19, 0, tzinfo=UTC)


def test_measurements_are_those_of_the_canary_and_stable_versions() -> None:
    tracks = {("canary", "v2"): TrackMeasurements(requests=50),
              ("canary", "v9"): TrackMeasurements(requests=999),
              ("stable", "v1"): TrackMeasurements(requests=300)}
    measured = measured_from(Signals("t", values={CANARY: tracks}), STATUS)
    assert measured is not None and measured.measurements is not None
    assert (measured.measurements.canary.requests, measured.measurements.stable.requests) == (
        50, 300)


def test_no_tick_no_measurements_and_errors_say_why() -> None:
    assert measured_from(None, STATUS) is None
    down = measured_from(Signals("t", values={CANARY_ERROR: "refused"}), STATUS)
    assert down is not None and down.measurements is None and down.error == "refused"


def _body(uri: str, router: str = "Replicas") -> dict:
    body = defaulted_sample()
    body["metadata"].setdefault("annotations", {})["vigia.dev/rollout"] = "pause"
    body["spec"]["model"] = {"uri": uri, "version": uri.rsplit("/", 1)[-1]}
    body["spec"]["rollout"]["traffic"] = {"router": router}
    if router == "GatewayAPI":
        body["spec"]["rollout"]["traffic"]["httpRoute"] = {"name": "r",
                                                           "parentRefs": [{"name": "gw"}]}
    return body


def _children(body: dict) -> ChildrenDecision:
    seen = Observation(body=body, md=parse(body), retraining=parse_retraining(body),
                       status={"stable": STATUS["stable"]}, children={}, signals=None,
                       now=NOW, tick=False)
    decided = decide_children(seen, OperatorSettings())
    assert isinstance(decided, ChildrenDecision)
    return decided


def test_a_new_version_builds_both_tracks_and_the_stable_keeps_its_model() -> None:
    body = _body("file:///m/v2")
    md = parse(body)
    result = _children(body)
    assert result.rollout.decision.canary is not None and result.rollout.decision.canary.paused
    children = [action.desired for action in result.plan.actions]
    deployments = {o["metadata"]["name"]: o for o in children if o["kind"] == "Deployment"}
    uris = {name: d["metadata"]["annotations"]["vigia.dev/model-uri"]
            for name, d in deployments.items()}
    assert uris == {f"{md.name}-stable": "file:///m/v1", f"{md.name}-canary": "file:///m/v2"}
    assert result.serving_view.model.uri == "file:///m/v1"


def test_gateway_router_adds_the_route_and_track_services() -> None:
    result = _children(_body("file:///m/v2", router="GatewayAPI"))
    kinds = [action.desired["kind"] for action in result.plan.actions]
    assert kinds.count("Service") == 3 and kinds[-1] == "HTTPRoute"


def test_the_canary_is_introduced_by_a_rollout_not_yet_in_status() -> None:
    body = _body("file:///m/v2")
    md = parse(body)
    canary = ("Deployment", f"{md.name}-canary")
    starting = _children(body)
    assert canary in starting.introduced
    status = {**STATUS, "canary": {**STATUS["canary"], "phase": "Progressing",
                                   "startedAt": "2026-11-23T18:55:00Z"}}
    in_flight = decide_children(Observation(body=body, md=md, retraining=parse_retraining(body),
                                            status=status, children={},
                                            signals=None, now=NOW, tick=False),
                                OperatorSettings())
    assert isinstance(in_flight, ChildrenDecision) and canary not in in_flight.introduced


def test_a_route_the_cluster_does_not_serve_refuses_router_gatewayapi_only() -> None:
    from vigia_operator.core import reasons
    from vigia_operator.core import resources as r
    from vigia_operator.view.policy import Refusal

    def decide(router: str) -> ChildrenDecision | Refusal:
        body = _body("file:///m/v1", router=router)
        return decide_children(Observation(
            body=body, md=parse(body), retraining=parse_retraining(body),
            status={"stable": STATUS["stable"]}, children={},
            signals=None, now=NOW, tick=False, unserved=frozenset({r.HTTPROUTE})),
            OperatorSettings())

    refused = decide("GatewayAPI")
    assert isinstance(refused, Refusal) and refused.reason == reasons.API_NOT_SERVED
    assert refused.message == (
        "HTTPRoute r cannot be created: the cluster did not serve "
        "httproutes.gateway.networking.k8s.io/v1 when the operator started (install the "
        "Gateway API CRDs, then restart the operator).")
    assert isinstance(decide("Replicas"), ChildrenDecision)
