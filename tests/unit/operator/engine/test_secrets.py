"""The Secret check says which of missing, not granted and unlabelled refused a Secret."""

from __future__ import annotations

from typing import Any, cast

import pytest
from vigia_operator.core import reasons
from vigia_operator.core.config import OperatorSettings
from vigia_operator.engine.secrets import SecretCheck
from vigia_operator.kube.client import KubeAPI, KubeError
from vigia_operator.view import parse

from tests.unit.operator.engine.fakes import FakeKube
from tests.unit.operator.schema import defaulted_sample

STORE = {"spec__serving__predictionLog__storeSecretRef": {"name": "db", "key": "url"}}


class NotGranted(FakeKube):
    """The API server as the operator's token sees a Secret its namespace did not grant."""

    async def get(self, api_version: str, kind: str, namespace: str, name: str,
                  *, metadata_only: bool = False) -> Any:
        raise KubeError(403, "Forbidden", f'secrets "{name}" is forbidden')


def check(kube: FakeKube) -> SecretCheck:
    return SecretCheck(cast(KubeAPI, kube), OperatorSettings())


@pytest.mark.parametrize(("kube", "labels", "why"), [
    (FakeKube(), None, "does not exist"),
    (NotGranted(), None, "is not granted to the operator"),
    (FakeKube(), {}, "does not carry the label vigia.dev/model-access=true"),
])
async def test_each_refusal_names_its_cause(kube: FakeKube, labels: dict[str, str] | None,
                                            why: str) -> None:
    if labels is not None:
        kube.objects[("ml", "Secret", "db")] = {"metadata": {"name": "db", "labels": labels}}
    md = parse(defaulted_sample(**STORE))
    refusal = await check(kube).check(md)
    assert refusal is not None and refusal.reason == reasons.SECRET_NOT_ALLOWED
    assert f"Secret 'db' {why}" in refusal.message
    assert "secret-grant.yaml" in refusal.message or why != "is not granted to the operator"


async def test_a_namespace_being_deleted_is_not_a_missing_grant() -> None:
    class Terminating(FakeKube):
        async def get(self, *args: Any, **kwargs: Any) -> Any:
            raise KubeError(403, "Forbidden", "namespace ml is being terminated")

    with pytest.raises(KubeError):
        await check(Terminating()).check(parse(defaulted_sample(**STORE)))
