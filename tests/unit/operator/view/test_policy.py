from __future__ import annotations

import pytest
from vigia_operator.core import reasons
from vigia_operator.core.config import OperatorSettings
from vigia_operator.view import parse
from vigia_operator.view.policy import (
    check_image,
    check_uri,
    image_allowed,
    normalize_image,
    pvc_location,
    secret_allowed,
)

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
