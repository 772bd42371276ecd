from __future__ import annotations

import pytest
from vigia_operator.view import SpecError, parse, version_of

from tests.unit.operator.schema import defaulted_sample


@pytest.mark.parametrize(("uri", "version"), [
    ("file:///models/iris/v1", "v1"),
    ("s3://bucket/models/iris-2024.01.bentomodel", "iris-2024.01"),
    ("s3://bucket/models/v2/", "v2"),
])
def test_version_from_uri(uri: str, version: str) -> None:
    assert version_of(uri) == version


def test_version_falls_back_to_a_hash() -> None:
    assert version_of("s3://bucket").startswith("uri-")
    assert version_of("s3://bucket/___") == version_of("s3://bucket/___")
    assert version_of("s3://a/___") != version_of("s3://b/___")


def test_explicit_version_wins() -> None:
    body = defaulted_sample()
    body["spec"]["model"]["version"] = "2024-06"
    assert parse(body).model.version == "2024-06"


@pytest.mark.parametrize(("mutate", "field"), [
    (lambda b: b["spec"].pop("model"), "spec.model"),
    (lambda b: b["spec"]["model"].update(uri=3), "spec.model.uri"),
    (lambda b: b["spec"]["model"].update(uri="models/iris"), "spec.model.uri"),
    (lambda b: b["spec"]["serving"].update(replicas="2"), "spec.serving.replicas"),
    (lambda b: b["spec"]["serving"].update(replicas=True), "spec.serving.replicas"),
    (lambda b: b["spec"]["serving"].update(replicas=0), "spec.serving.replicas"),
    (lambda b: b["spec"]["serving"].pop("image"), "spec.serving.image"),
    (lambda b: b["spec"]["serving"]["predictionLog"].update(features="some"),
     "spec.serving.predictionLog.features"),
    (lambda b: b["spec"]["serving"]["resources"].update(limits={"memory": [1]}),
     "spec.serving.resources.limits.memory"),
    (lambda b: b["spec"]["model"].update(version="not a label"), "spec.model.version"),
])
def test_bad_input_names_the_field(mutate: object, field: str) -> None:
    body = defaulted_sample()
    mutate(body)  # type: ignore[operator]
    with pytest.raises(SpecError) as raised:
        parse(body)
    assert raised.value.field == field
    assert str(raised.value).startswith(field)
