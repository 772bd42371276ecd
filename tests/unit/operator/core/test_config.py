"""The operator's configuration: the VIGIA_OPERATOR_* names the Helm chart renders."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from vigia_operator.core.config import OperatorSettings


def test_defaults() -> None:
    settings = OperatorSettings()
    assert settings.allowed_images == ("docker.io/vigia/vigia",)
    assert settings.secret_label == "vigia.dev/model-access=true"
    assert settings.allow_sidecar_digest is False
    assert settings.prometheus_url == "" and settings.namespaces == ()
    assert settings.tick_seconds == 60.0


def test_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIA_OPERATOR_ALLOWED_IMAGES", "vigia/vigia, registry.local/ml/ ")
    monkeypatch.setenv("VIGIA_OPERATOR_SECRET_LABEL", "team=ml")
    monkeypatch.setenv("VIGIA_OPERATOR_ALLOW_SIDECAR_DIGEST", "true")
    monkeypatch.setenv("VIGIA_OPERATOR_PROMETHEUS_URL", "http://prometheus:9090")
    monkeypatch.setenv("VIGIA_OPERATOR_TICK_SECONDS", "15")
    monkeypatch.setenv("VIGIA_OPERATOR_NAMESPACES", "a,b")
    settings = OperatorSettings()
    assert settings.allowed_images == ("vigia/vigia", "registry.local/ml/")
    assert settings.secret_label_pair == ("team", "ml")
    assert settings.allow_sidecar_digest is True
    assert settings.prometheus_url == "http://prometheus:9090"
    assert settings.tick_seconds == 15.0
    assert settings.namespaces == ("a", "b")


def test_a_bad_label_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIA_OPERATOR_SECRET_LABEL", "no-equals-sign")
    with pytest.raises(ValidationError, match="VIGIA_OPERATOR_SECRET_LABEL must be key=value"):
        OperatorSettings()
