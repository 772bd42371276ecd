"""Property-based fuzzing of the real server from its own OpenAPI document (schemathesis):
bodies valid and invalid by the document, no 5xx, every answer as the document says
(status codes, content type, body schema). Bounded: a fixed number of examples per
operation, and a timeout per request."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import DataGenerationMethod
from schemathesis.specs.openapi.schemas import BaseOpenAPISchema
from vigia_serving.local import LocalServer

from tests.integration.serving.conftest import Sample, start_server

pytestmark = pytest.mark.integration

EXAMPLES_PER_OPERATION = 40
REQUEST_TIMEOUT_S = 30


@pytest.fixture(scope="module")
def fuzzed_server(
    sample: Sample, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalServer]:
    work = tmp_path_factory.mktemp("fuzz")
    server = start_server(work, sample, f"sqlite:///{work}/p.db")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def api_schema(fuzzed_server: LocalServer) -> BaseOpenAPISchema:
    return schemathesis.from_uri(
        fuzzed_server.url + "/openapi.json",
        base_url=fuzzed_server.url,
        data_generation_methods=[DataGenerationMethod.positive, DataGenerationMethod.negative],
    )


schema = schemathesis.from_pytest_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_the_api_keeps_to_its_document(case: schemathesis.Case) -> None:
    case.call_and_validate(timeout=REQUEST_TIMEOUT_S)
