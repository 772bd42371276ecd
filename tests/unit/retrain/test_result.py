from __future__ import annotations

import json

import pytest

from vigia.retraining import RESULT_SCHEMA, parse_result

ACCEPTED = {
    "schema": RESULT_SCHEMA,
    "verdict": "Accepted",
    "reasons": [],
    "candidate": {"version": "r1", "uri": "s3://m/sobaos-r1.bentomodel",
                  "digest": "sha256:" + "a" * 64, "reportUri": "s3://m/sobaos-r1.report.json"},
    "metrics": {"recent": {"improvement": 0.04}},
    "data": {"feedback": {"used": 1500}},
}


def test_an_accepted_result_names_its_candidate() -> None:
    result = parse_result(json.dumps(ACCEPTED))
    assert result.accepted
    assert result.candidate is not None and result.candidate.report_uri.endswith(".report.json")
    assert result.model_extra == {"data": {"feedback": {"used": 1500}}}


def test_a_refusal_with_shortened_reasons_still_parses() -> None:
    text = json.dumps({"schema": RESULT_SCHEMA, "verdict": "Refused",
                       "reasons": [{"code": "Unfair"}], "truncated": ["reasons.message"]})
    result = parse_result(text)
    assert not result.accepted
    assert result.reasons[0].code == "Unfair" and result.reasons[0].message is None


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("Error: OOMKilled", "message"),
        (json.dumps({**ACCEPTED, "verdict": "Maybe"}), "verdict"),
        (json.dumps({**ACCEPTED, "schema": "other/v9"}), "schema"),
    ],
)
def test_anything_else_is_a_clear_error(text: str, where: str) -> None:
    with pytest.raises(ValueError, match=f"retrain-result/v1 result: {where}"):
        parse_result(text)
