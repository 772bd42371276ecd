"""The few pure helpers of the kopf handlers."""

from __future__ import annotations

from vigia_operator.handlers import _backoff, _model_change


def test_model_change_from_a_field_diff() -> None:
    diff = [("change", ("spec", "model", "uri"), "s3://a/v1", "s3://a/v2")]
    assert _model_change(diff) == ("s3://a/v1", "s3://a/v2")


def test_model_change_from_a_whole_spec_diff() -> None:
    diff = [("change", ("spec",), {"model": {"uri": "s3://a/v1"}},
             {"model": {"uri": "s3://a/v2"}})]
    assert _model_change(diff) == ("s3://a/v1", "s3://a/v2")


def test_no_model_change() -> None:
    assert _model_change([("change", ("spec", "serving", "replicas"), 1, 2)]) is None
    assert _model_change(None) is None


def test_backoff_grows_and_is_capped() -> None:
    assert [_backoff(n) for n in (0, 1, 2, 3)] == [1.0, 2.0, 4.0, 8.0]
    assert _backoff(20) == 60.0
