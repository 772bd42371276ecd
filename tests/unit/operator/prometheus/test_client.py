"""Reading Prometheus API responses (the HTTP side is tested against a real Prometheus)."""

from __future__ import annotations

import json
import math

import pytest
from vigia_operator.prometheus.client import (
    PrometheusUnavailable,
    QueryRejected,
    parse_response,
)


def body(document: object) -> bytes:
    return json.dumps(document).encode()


def test_a_vector_is_read_with_labels_and_nan() -> None:
    samples = parse_response(body({"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": {"model": "m"}, "value": [10.5, "0.25"]},
        {"metric": {"model": "n"}, "value": [10.5, "NaN"]},
    ]}}))
    assert samples[0].labels == {"model": "m"} and samples[0].value == 0.25
    assert samples[0].timestamp == 10.5 and math.isnan(samples[1].value)


def test_a_scalar_is_one_sample_without_labels() -> None:
    samples = parse_response(body({"status": "success",
                                   "data": {"resultType": "scalar", "result": [1, "3"]}}))
    assert [(s.labels, s.value) for s in samples] == [({}, 3.0)]


def test_a_range_result_is_refused() -> None:
    with pytest.raises(QueryRejected, match="matrix"):
        parse_response(body({"status": "success", "data": {"resultType": "matrix", "result": []}}))


def test_garbage_is_an_unavailable_prometheus() -> None:
    with pytest.raises(PrometheusUnavailable, match="unreadable"):
        parse_response(b"<html>proxy error</html>")
