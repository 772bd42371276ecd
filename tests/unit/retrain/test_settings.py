from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from vigia_retrain.cli import build_parser

from vigia.retraining import parse_duration
from vigia.settings import RetrainSettings, retrain_env_name

REQUIRED = {"dataset_uri": "s3://b/d.csv", "target": "y", "model_uri": "m", "output_uri": "o"}


def from_env(**arguments: Any) -> RetrainSettings:
    """Settings from the environment (and ``arguments``, as the CLI passes them)."""
    return RetrainSettings(**arguments)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name, value in REQUIRED.items():
        monkeypatch.setenv(retrain_env_name(name), value)
    return monkeypatch


def test_settings_come_from_the_environment(env: pytest.MonkeyPatch) -> None:
    env.setenv("VIGIA_RETRAIN_MIN_IMPROVEMENT", "-0.01")
    env.setenv("VIGIA_RETRAIN_INCLUDE_FEEDBACK", "false")
    settings = from_env()
    assert settings.dataset_uri == "s3://b/d.csv"
    assert settings.min_improvement == -0.01
    assert settings.include_feedback is False


@pytest.mark.parametrize("text", ["shift, flour_supplier", '["shift", "flour_supplier"]'])
def test_sensitive_features_as_a_list_or_json(env: pytest.MonkeyPatch, text: str) -> None:
    env.setenv("VIGIA_RETRAIN_SENSITIVE_FEATURES", text)
    assert from_env().sensitive_features == ["shift", "flour_supplier"]


def test_arguments_win_over_the_environment(env: pytest.MonkeyPatch) -> None:
    assert from_env(target="grade").target == "grade"


@pytest.mark.parametrize(
    ("name", "value"),
    [("feedback_window", "a week"), ("max_parity_difference", "2"), ("feedback_holdout", "1")],
)
def test_bad_values_name_their_field(env: pytest.MonkeyPatch, name: str, value: str) -> None:
    env.setenv(retrain_env_name(name), value)
    with pytest.raises(ValidationError) as caught:
        from_env()
    assert caught.value.errors()[0]["loc"] == (name,)


def test_every_setting_is_an_option() -> None:
    options = {a.dest for a in build_parser()._actions}
    assert set(RetrainSettings.model_fields) <= options


@pytest.mark.parametrize(
    ("text", "expected"),
    [("7d", timedelta(days=7)), ("36h", timedelta(hours=36)),
     ("1h30m", timedelta(minutes=90)), ("90s", timedelta(seconds=90))],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "7", "0h", "1w", "h1"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)
