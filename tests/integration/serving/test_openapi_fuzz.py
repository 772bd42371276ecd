"""Property-based fuzzing of the real server from its own OpenAPI document (schemathesis):
bodies valid and invalid by the document, no 5xx, every answer as the document says
(status codes, content type, body schema). Bounded: a fixed number of examples per
operation, and a timeout per request.

A GET's negative case is judged by the query it sent: schemathesis 3.39 marks the path
parameters of an operation that has none as negated, which defeats its own exemption of
cases that only add unknown parameters, and an added parameter whose value is null or an
empty list never reaches the wire (the request sent is valid, and answered 200)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import jsonschema
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import DataGenerationMethod
from schemathesis.specs.openapi.checks import negative_data_rejection
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
    response = case.call(timeout=REQUEST_TIMEOUT_S)
    excluded = (negative_data_rejection,) if _sent_a_valid_query(case, response) else ()
    case.validate_response(response, excluded_checks=excluded)


def _sent_a_valid_query(case: schemathesis.Case, response: Any) -> bool:
    """A GET whose query string, as sent, has only its declared parameters, once each, each
    valid by its schema."""
    if case.operation.method.upper() != "GET":
        return False
    sent = parse_qsl(urlsplit(response.request.url).query, keep_blank_values=True)
    declared = {p.name: p.definition.get("schema", {}) for p in case.operation.query}
    names = [name for name, _ in sent]
    if len(set(names)) != len(names) or not set(names) <= set(declared):
        return False
    return all(jsonschema.Draft4Validator(declared[name]).is_valid(value)
               for name, value in sent)
