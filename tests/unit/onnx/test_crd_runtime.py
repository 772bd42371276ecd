from __future__ import annotations

import typing

from tests.unit.operator import schema as s
from vigia.settings import ServingSettings


def test_serving_runtime_field_matches_the_server_setting() -> None:
    runtime = s.schema()["properties"]["spec"]["properties"]["serving"]["properties"]["runtime"]
    accepted = typing.get_args(ServingSettings.model_fields["runtime"].annotation)
    assert runtime["enum"] == list(accepted)
    assert runtime["default"] == ServingSettings.model_fields["runtime"].default == "sklearn"
    assert "VIGIA_RUNTIME" in runtime["description"]
