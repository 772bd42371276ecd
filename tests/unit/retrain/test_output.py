from __future__ import annotations

import json
from pathlib import Path

import pytest
from vigia_retrain.output import candidate_uris, fit_message, publish_result

from vigia.retraining import TERMINATION_MESSAGE_LIMIT


def big_result() -> dict[str, object]:
    return {
        "verdict": "Refused",
        "reasons": [{"code": "Unfair", "message": "x" * 300}],
        "importance": {f"feature_{i}": 0.01 for i in range(200)},
        "fairness": {
            "shift": {
                "demographicParityDifference": 0.4,
                "groups": {f"group{i}": {"rows": 30.0, "selectionRate": 0.5} for i in range(100)},
            }
        },
        "metrics": {"recent": {"improvement": 0.03}},
    }


def test_small_result_is_unchanged() -> None:
    result = {"verdict": "Accepted", "reasons": []}
    assert json.loads(fit_message(result)) == result


def test_large_result_drops_optional_parts_first_and_says_so() -> None:
    text = fit_message(big_result())
    assert len(text.encode()) <= TERMINATION_MESSAGE_LIMIT
    fitted = json.loads(text)
    assert fitted["truncated"] == ["importance", "fairness.groups"]
    assert fitted["fairness"]["shift"]["demographicParityDifference"] == 0.4
    assert fitted["reasons"][0]["message"] == "x" * 300
    assert fitted["metrics"] == {"recent": {"improvement": 0.03}}


def test_message_goes_down_to_codes_when_needed() -> None:
    fitted = json.loads(fit_message(big_result(), limit=150))
    assert fitted["reasons"] == [{"code": "Unfair"}]
    assert "reasons.message" in fitted["truncated"]


def test_candidate_files_sit_side_by_side() -> None:
    uris = candidate_uris("s3://models/sobaos/", "sobaos", "r1")
    assert (uris.bundle, uris.report, uris.html_report, uris.onnx_folder) == (
        "s3://models/sobaos/sobaos-r1.bentomodel",
        "s3://models/sobaos/sobaos-r1.report.json",
        "s3://models/sobaos/sobaos-r1.report.html",
        "s3://models/sobaos/sobaos-r1.onnx",
    )


def test_a_version_named_after_the_model_is_not_prefixed_twice() -> None:
    uris = candidate_uris("pvc://models/sobaos", "sobaos", "sobaos-drift-7f3a")
    assert uris.bundle == "pvc://models/sobaos/sobaos-drift-7f3a.bentomodel"


def test_result_goes_to_stdout_and_the_termination_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "termination-log"
    publish_result({"verdict": "Accepted", "reasons": []}, str(path))
    printed = capsys.readouterr().out.strip()
    assert json.loads(printed) == json.loads(path.read_text()) == {
        "verdict": "Accepted",
        "reasons": [],
    }


def test_onnx_error_message_goes_before_the_reasons_messages() -> None:
    result = {**big_result(), "onnx": {"error": {"code": "UnsupportedModel", "message": "y" * 400}}}
    fitted = json.loads(fit_message(result, limit=600))
    assert fitted["onnx"] == {"error": {"code": "UnsupportedModel"}}
    assert fitted["reasons"][0]["message"] == "x" * 300
    assert fitted["truncated"][-1] == "onnx.error.message"
