"""A Job's result said as the candidate's report says it: one sentence under 200 characters
with the accuracies the gate compared, the numbers kept in structured fields."""

from __future__ import annotations

from typing import Any

import jsonschema
from vigia_operator.core.records import to_json
from vigia_operator.decide.retraining.result import MAX_SENTENCE, from_result, sentence
from vigia_operator.decide.retraining.state import ResultRecord
from vigia_operator.status.retraining import result_sentence

from tests.unit.operator.schema import schema, undeclared
from vigia.retraining import ACCEPTED, FAILED, REFUSED, RESULT_SCHEMA, Reason, RetrainResult

GATE = {"minImprovement": 0.0, "maxHoldoutLoss": 0.02, "maxParityDifference": 0.1,
        "minGroupSize": 30}


def _compared(rows: int, current: float, candidate: float) -> dict[str, Any]:
    return {"rows": rows, "current": {"accuracy": current, "f1Macro": 0.81},
            "candidate": {"accuracy": candidate, "f1Macro": 0.86},
            "improvement": candidate - current}


def _result(verdict: str, *, recent: dict[str, Any] | None, holdout: dict[str, Any],
            reasons: list[dict[str, str]] | None = None) -> RetrainResult:
    candidate = {"version": "2", "uri": "file:///b/2", "digest": "sha256:" + "c" * 64,
                 "reportUri": "file:///b/2.json"} if verdict == ACCEPTED else None
    return RetrainResult.model_validate({
        "schema": RESULT_SCHEMA, "verdict": verdict, "reasons": reasons or [],
        "candidate": candidate, "metrics": {"holdout": holdout, "recent": recent},
        "gate": GATE, "data": {"baseRows": 4000}, "timing": {"totalSeconds": 12.5}})


def test_an_accepted_candidate_is_said_as_the_report_says_it() -> None:
    run = from_result(_result(ACCEPTED, recent=_compared(3900, 0.8333, 0.8851),
                              holdout=_compared(1000, 0.889, 0.873)))
    assert run.message == ("83.3% → 88.5% on 3,900 recent labelled items; 88.9% → 87.3% on "
                           "the original holdout, within the 2 points allowed.")
    assert run.metrics is not None and run.metrics.recent is not None
    assert (run.metrics.recent.rows, run.metrics.recent.candidate_accuracy) == (3900, 0.8851)
    assert run.metrics.max_holdout_loss == 0.02


def test_a_holdout_gain_needs_no_allowance() -> None:
    run = from_result(_result(ACCEPTED, recent=None, holdout=_compared(1000, 0.88, 0.9)))
    assert run.message == "88.0% → 90.0% on the original holdout."


def test_a_refusal_names_the_limit_it_broke() -> None:
    loss = {"code": Reason.HOLDOUT_REGRESSION, "message": "loss 0.0500 exceeds 0.0200"}
    run = from_result(_result(REFUSED, recent=_compared(2500, 0.80, 0.90),
                              holdout=_compared(1000, 0.90, 0.85), reasons=[loss]))
    assert run.verdict == REFUSED
    assert run.message == ("80.0% → 90.0% on 2,500 recent labelled items; 90.0% → 85.0% on "
                           "the original holdout, more than the 2 points allowed.")


def test_a_gain_too_small_is_said_on_the_rows_it_was_judged_on() -> None:
    result = _result(REFUSED, recent=_compared(300, 0.80, 0.80),
                     holdout=_compared(1000, 0.90, 0.90),
                     reasons=[{"code": Reason.NOT_ENOUGH_IMPROVEMENT, "message": "gain 0"}])
    result.model_extra["gate"] = {**GATE, "minImprovement": 0.01}  # type: ignore[index]
    assert from_result(result).message == (
        "80.0% → 80.0% on 300 recent labelled items, below the 1 point gain required; "
        "90.0% → 90.0% on the original holdout.")


def test_a_failure_says_its_reason_in_one_sentence_cut_to_fit() -> None:
    result = RetrainResult.model_validate({
        "schema": RESULT_SCHEMA, "verdict": FAILED,
        "reasons": [{"code": Reason.ERROR, "message": "ValueError: " + "x " * 300}]})
    run = from_result(result)
    assert run.metrics is None
    assert run.message.startswith("Error: ValueError: x x") and run.message.endswith("…")
    assert len(run.message) <= MAX_SENTENCE


def test_sentences_end_once_and_fit() -> None:
    assert sentence("Done.") == "Done."
    assert sentence("a  b\nc") == "a b c."
    assert len(sentence("word " * 100)) <= MAX_SENTENCE


def test_the_record_fits_the_crds_result_schema_and_the_event_fits_a_line() -> None:
    run = from_result(_result(ACCEPTED, recent=_compared(3900, 0.8333, 0.8851),
                              holdout=_compared(1000, 0.889, 0.873)))
    record = ResultRecord("sobaos-retrain-drift-1", run.verdict, run.message,
                          "2026-12-07T00:00:00Z", "file:///b/2", metrics=run.metrics)
    written = to_json(record)
    node = schema()["properties"]["status"]["properties"]["retraining"]["properties"]["result"]
    jsonschema.validate(written, node)
    assert undeclared(written, node, "result") == []
    said = result_sentence(record, "2")
    assert said.startswith("Candidate 2 accepted: 83.3% → 88.5%") and len(said) < 200
    assert said.count(". ") == 0 and said.endswith(".")


def _errors(rows: int, current: float, candidate: float) -> dict[str, Any]:
    return {"rows": rows, "metric": "mae", "current": {"mae": current, "rmse": 2 * current},
            "candidate": {"mae": candidate, "rmse": 2 * candidate},
            "improvement": (current - candidate) / current}


def test_a_regressors_candidate_is_said_by_its_mae() -> None:
    run = from_result(_result(ACCEPTED, recent=_errors(300, 5.7, 2.0),
                              holdout=_errors(600, 1.94, 1.9)))
    assert run.metrics is None
    assert run.message == ("MAE 5.7 → 2 on 300 recent labelled items (-64.9%); MAE 1.94 → 1.9 "
                           "on the original holdout (-2.1%).")
    small = {"code": Reason.NOT_ENOUGH_IMPROVEMENT, "message": "MAE on recent feedback ..."}
    refused = from_result(_result(REFUSED, recent=_errors(300, 5.7, 5.6),
                                  holdout=_errors(600, 1.94, 1.9), reasons=[small]))
    assert "(-1.8%), below the 0% reduction required" in refused.message
