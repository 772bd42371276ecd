from __future__ import annotations

import pytest
from vigia_operator.core import reasons
from vigia_operator.core.config import OperatorSettings
from vigia_operator.view import parse
from vigia_operator.view.policy import (
    check_image,
    check_route,
    check_spec,
    check_uri,
    hostname_allowed,
    image_allowed,
    normalize_image,
    pvc_location,
    secret_allowed,
)
from vigia_operator.view.retraining import parse_retraining

from tests.unit.operator.schema import defaulted_sample

DEFAULTS = OperatorSettings()


@pytest.mark.parametrize(("reference", "normalized"), [
    ("vigia/vigia:0.1.0", "docker.io/vigia/vigia:0.1.0"),
    ("docker.io/vigia/vigia:0.1.0", "docker.io/vigia/vigia:0.1.0"),
    ("index.docker.io/vigia/vigia", "docker.io/vigia/vigia"),
    ("nginx", "docker.io/library/nginx"),
    ("localhost:5000/vigia/vigia:1", "localhost:5000/vigia/vigia:1"),
    ("ghcr.io/org/img@sha256:abc", "ghcr.io/org/img@sha256:abc"),
])
def test_normalize_image(reference: str, normalized: str) -> None:
    assert normalize_image(reference) == normalized


@pytest.mark.parametrize(("image", "ok"), [
    ("vigia/vigia:0.1.0", True), ("docker.io/vigia/vigia:0.2.0", True),
    ("vigia/vigia@sha256:" + "a" * 64, True), ("vigia/vigia", True),
    ("vigia/vigia-evil:1", False), ("evil/vigia:0.1.0", False),
    ("registry.example.com/vigia/vigia:0.1.0", False), ("nginx", False),
])
def test_default_allow_list_is_the_projects_image(image: str, ok: bool) -> None:
    assert image_allowed(image, DEFAULTS.allowed_images) is ok


def test_prefixes_end_at_a_component_boundary() -> None:
    assert image_allowed("registry.example.com/team/model:1", ["registry.example.com/team/"])
    assert image_allowed("registry.example.com/team/model:1", ["registry.example.com/team"])
    assert not image_allowed("registry.example.com/teammate/x:1", ["registry.example.com/team"])
    assert not image_allowed("anything", [])


def test_refused_image_names_the_field_and_the_reason() -> None:
    md = parse(defaulted_sample(spec__serving__image="evil/miner:1"))
    refusal = check_image(md, DEFAULTS)
    assert refusal is not None and refusal.reason == reasons.IMAGE_NOT_ALLOWED
    assert "spec.serving.image 'evil/miner:1'" in refusal.message
    assert check_image(parse(defaulted_sample()), DEFAULTS) is None


@pytest.mark.parametrize(("uri", "digest", "reason"), [
    ("http://example.com/m.bentomodel", None, reasons.SCHEME_NOT_ALLOWED),
    ("memory://m", None, reasons.SCHEME_NOT_ALLOWED),
    ("pvc://models/../x", None, reasons.SCHEME_NOT_ALLOWED),
    ("s3://bucket/m.bentomodel", None, reasons.DIGEST_REQUIRED),
    ("s3://bucket/m.bentomodel", "sha256:" + "a" * 64, None),
    ("file:///models/m.bentomodel", None, None),
    ("pvc://models/iris/m.bentomodel", None, None),
])
def test_uri_policy(uri: str, digest: str | None, reason: str | None) -> None:
    body = defaulted_sample(spec__model={"uri": uri, **({"digest": digest} if digest else {})})
    refusal = check_uri(parse(body), DEFAULTS)
    assert (refusal.reason if refusal else None) == reason


def test_sidecar_digests_only_where_configured() -> None:
    md = parse(defaulted_sample(spec__model={"uri": "s3://bucket/m.bentomodel"}))
    assert check_uri(md, OperatorSettings(allow_sidecar_digest=True)) is None


def test_pvc_location() -> None:
    assert pvc_location("pvc://models/iris/v1.bentomodel") == ("models", "iris/v1.bentomodel")


def test_secret_label() -> None:
    assert secret_allowed({"vigia.dev/model-access": "true"}, DEFAULTS)
    assert not secret_allowed({"vigia.dev/model-access": "yes"}, DEFAULTS)
    assert not secret_allowed(None, DEFAULTS)
    custom = OperatorSettings(secret_label="team=ml")
    assert custom.secret_label_pair == ("team", "ml")
    assert secret_allowed({"team": "ml"}, custom)


def _retraining(dataset_uri: str) -> dict[str, object]:
    return {"enabled": True, "dataset": {"uri": dataset_uri, "target": "quality"}}


@pytest.mark.parametrize(("uri", "refused"), [
    ("http://169.254.169.254/latest/meta-data/creds.csv", "scheme 'http' is not allowed"),
    ("https://internal.example/d.csv", "scheme 'https' is not allowed"),
    ("memory://d.csv", "scheme 'memory' is not allowed"),
    ("pvc://data/../x.csv", "without '.', '..' or empty segments"),
    ("pvc://data//x.csv", "without '.', '..' or empty segments"),
    ("pvc://Data/x.csv", "is not a PersistentVolumeClaim name"),
    ("s3://bucket/d.csv::http://10.0.0.1/x", "chained URIs (::) are not allowed"),
    ("s3://bucket/d.csv", None),  # a dataset is read, never unpickled: no digest needed
    ("file:///data/d.csv", None),
    ("pvc://data/sobaos/d.csv", None),
])
def test_the_dataset_uri_is_under_the_model_uri_s_policy(uri: str, refused: str | None) -> None:
    body = defaulted_sample(spec__retraining=_retraining(uri))
    refusal = check_spec(parse(body), parse_retraining(body), DEFAULTS)
    if refused is None:
        assert refusal is None
    else:
        assert refusal is not None and refusal.reason == reasons.SCHEME_NOT_ALLOWED
        assert refusal.message.startswith("spec.retraining.dataset.uri: ")
        assert refused in refusal.message


def _routed(parent_refs: list[dict[str, str]], hostnames: list[str] | None = None
            ) -> dict[str, object]:
    route: dict[str, object] = {"name": "iris", "parentRefs": parent_refs}
    if hostnames is not None:
        route["hostnames"] = hostnames
    return {"router": "GatewayAPI", "httpRoute": route}


def _route_refusal(settings: OperatorSettings, parent_refs: list[dict[str, str]],
                   hostnames: list[str] | None = None) -> str | None:
    body = defaulted_sample(spec__rollout__traffic=_routed(parent_refs, hostnames))
    refusal = check_route(parse(body), settings)
    return None if refusal is None else f"{refusal.reason}: {refusal.message}"


def test_by_default_a_route_attaches_to_its_own_namespace_s_gateways_only() -> None:
    namespace = parse(defaulted_sample()).namespace
    assert _route_refusal(DEFAULTS, [{"name": "gw"}]) is None
    assert _route_refusal(DEFAULTS, [{"name": "gw", "namespace": namespace}]) is None
    refused = _route_refusal(DEFAULTS, [{"name": "gw"}, {"name": "public", "namespace": "infra"}])
    assert refused is not None and refused.startswith(reasons.GATEWAY_NOT_ALLOWED)
    assert "spec.rollout.traffic.httpRoute.parentRefs[1]: Gateway infra/public" in refused


def test_gateways_follow_the_configuration() -> None:
    shared = OperatorSettings(allowed_gateways="infra/public, edge/*")  # type: ignore[arg-type]
    assert _route_refusal(shared, [{"name": "public", "namespace": "infra"}]) is None
    assert _route_refusal(shared, [{"name": "any", "namespace": "edge"}]) is None
    assert _route_refusal(shared, [{"name": "admin", "namespace": "infra"}]) is not None
    assert _route_refusal(shared, [{"name": "gw"}]) is not None  # own namespace not listed


def test_gateway_entries_must_be_namespace_slash_name() -> None:
    with pytest.raises(ValueError, match="NAMESPACE/NAME"):
        OperatorSettings(allowed_gateways="public")  # type: ignore[arg-type]


def test_by_default_no_hostname_may_be_named() -> None:
    refused = _route_refusal(DEFAULTS, [{"name": "gw"}], ["iris.example.com"])
    assert refused is not None and refused.startswith(reasons.HOSTNAME_NOT_ALLOWED)
    assert "spec.rollout.traffic.httpRoute.hostnames[0]: 'iris.example.com'" in refused
    assert _route_refusal(DEFAULTS, [{"name": "gw"}], []) is None


def test_hostnames_follow_the_configuration() -> None:
    configured = OperatorSettings(
        allowed_hostnames="*.{namespace}.apps.example.com,status.example.com")  # type: ignore[arg-type]
    namespace = parse(defaulted_sample()).namespace
    ok = [f"iris.{namespace}.apps.example.com", "status.example.com"]
    assert _route_refusal(configured, [{"name": "gw"}], ok) is None
    assert _route_refusal(configured, [{"name": "gw"}], ["iris.other.apps.example.com"])
    assert _route_refusal(configured, [{"name": "gw"}], ["www.example.com"])


@pytest.mark.parametrize(("hostname", "patterns", "ok"), [
    ("a.example.com", ["*.example.com"], True),
    ("a.b.example.com", ["*.example.com"], True),
    ("*.example.com", ["*.example.com"], True),
    ("example.com", ["*.example.com"], False),
    ("evil-example.com", ["*.example.com"], False),
    ("*.com", ["*.example.com"], False),
    ("A.Example.COM", ["a.example.com"], True),
    ("anything.test", ["*"], True),
    ("anything.test", [], False),
])
def test_hostname_patterns(hostname: str, patterns: list[str], ok: bool) -> None:
    assert hostname_allowed("ns", hostname, patterns) is ok


def test_the_replicas_router_builds_no_route_so_nothing_is_checked() -> None:
    traffic = {**_routed([{"name": "x", "namespace": "infra"}], ["a.b"]), "router": "Replicas"}
    assert check_route(parse(defaulted_sample(spec__rollout__traffic=traffic)), DEFAULTS) is None
