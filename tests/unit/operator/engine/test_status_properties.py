"""Property (issue 21): whatever status the operator finds on an object (an older
operator's, or one edited by hand through the status subresource), as long as the CRD's
status schema admits it, no pure part raises: the reconciles go on from it. Statuses are
generated from the CRD's own status schema (hypothesis-jsonschema); derandomized."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis_jsonschema import from_schema

from tests.unit.operator.pure_parts import run_pure_parts
from tests.unit.operator.schema import defaulted_sample, json_schema, schema

STATUS = json_schema(schema()["properties"]["status"])


@settings(max_examples=40, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(status=from_schema(STATUS))
def test_any_status_the_schema_admits_is_reconciled_from(status: dict[str, Any]) -> None:
    body = defaulted_sample()
    body["status"] = status
    assert run_pure_parts(body) == []
