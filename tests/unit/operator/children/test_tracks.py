"""Builders of the tracks (Deployments) and of router GatewayAPI's Services and HTTPRoute."""

from __future__ import annotations

from dataclasses import replace

from vigia_operator.children.route import build_gateway_objects, build_http_route
from vigia_operator.children.serving import build_configmap, build_deployment
from vigia_operator.children.tracks import build_tracks
from vigia_operator.decide.rollout.traffic import TrafficPlan
from vigia_operator.view import parse
from vigia_operator.view.rollout import HTTPRouteSpec, ParentRef

from tests.unit.operator.decide.rollout.helpers import V1, V2
from tests.unit.operator.schema import defaulted_sample

MD = parse(defaulted_sample())
CONFIG = build_configmap(MD)
ROUTE = HTTPRouteSpec("iris", (ParentRef("gw", "infra", "http"),), ("iris.example.com",))


def _plan(stable=V1, stable_replicas=3, canary=V2, canary_replicas=1, weight=25):
    return TrafficPlan(stable, stable_replicas, canary, canary_replicas, weight)


def _tracks(plan: TrafficPlan, keep_canary: bool = False):
    return build_tracks(MD, CONFIG, plan, keep_canary=keep_canary, deployment=build_deployment)


def _uri(deployment) -> str:
    return deployment["spec"]["template"]["metadata"]["annotations"]["vigia.dev/model-uri"]


def test_stable_and_canary_deployments_serve_their_versions() -> None:
    stable, canary = _tracks(_plan())
    assert stable["metadata"]["name"].endswith("-stable") and _uri(stable) == V1.uri
    assert canary["metadata"]["name"].endswith("-canary") and _uri(canary) == V2.uri
    assert (stable["spec"]["replicas"], canary["spec"]["replicas"]) == (3, 1)
    pod_labels = canary["spec"]["template"]["metadata"]["labels"]
    assert pod_labels["vigia.dev/track"] == "canary" and pod_labels["vigia.dev/version"] == "v2"
    # Distinct selectors: each Deployment owns only its track's pods.
    assert stable["spec"]["selector"] != canary["spec"]["selector"]
    env = {e["name"]: e.get("value") for e in canary["spec"]["template"]["spec"]["containers"][0]
           ["env"]}
    assert env["VIGIA_TRACK"] == "canary" and env["VIGIA_MODEL_URI"] == V2.uri


def test_digest_of_the_canary_version_reaches_its_pods() -> None:
    _, canary = _tracks(_plan(canary=replace(V2, digest="sha256:" + "a" * 64)))
    env = {e["name"]: e.get("value") for e in canary["spec"]["template"]["spec"]["containers"][0]
           ["env"]}
    assert env["VIGIA_MODEL_DIGEST"] == "sha256:" + "a" * 64


def test_no_canary_builds_only_the_stable_unless_one_exists() -> None:
    idle = _plan(canary=None, canary_replicas=0, weight=0)
    assert len(_tracks(idle)) == 1
    _, canary = _tracks(idle, keep_canary=True)
    assert canary["spec"]["replicas"] == 0 and _uri(canary) == V1.uri


def test_the_service_selects_both_tracks() -> None:
    from vigia_operator.children.serving import build_service

    stable, canary = _tracks(_plan())
    selector = build_service(MD)["spec"]["selector"]
    for deployment in (stable, canary):
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert all(labels[k] == v for k, v in selector.items())


def test_http_route_weights_point_at_the_track_services() -> None:
    route = build_http_route(MD, ROUTE, _plan(weight=10))
    assert route["apiVersion"] == "gateway.networking.k8s.io/v1"
    (rule,) = route["spec"]["rules"]
    weights = {b["name"]: b["weight"] for b in rule["backendRefs"]}
    assert weights == {f"{MD.name}-stable": 90, f"{MD.name}-canary": 10}
    assert route["spec"]["parentRefs"] == [
        {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "gw",
         "namespace": "infra", "sectionName": "http"}]
    assert route["spec"]["hostnames"] == ["iris.example.com"]
    assert route["metadata"]["ownerReferences"][0]["uid"] == MD.uid


def test_track_services_select_one_track_each() -> None:
    stable_svc, canary_svc, route = build_gateway_objects(MD, ROUTE, _plan())
    assert stable_svc["spec"]["selector"]["vigia.dev/track"] == "stable"
    assert canary_svc["spec"]["selector"]["vigia.dev/track"] == "canary"
    names = [b["name"] for b in route["spec"]["rules"][0]["backendRefs"]]
    assert names == [stable_svc["metadata"]["name"], canary_svc["metadata"]["name"]]
