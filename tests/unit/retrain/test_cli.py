from __future__ import annotations

import json
from pathlib import Path

import pytest
from vigia_retrain.cli import main


def test_every_setting_is_an_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["--help"])
    assert caught.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: vigia-retrain")
    assert "$VIGIA_RETRAIN_DATASET_URI" in out and "Exit codes" in out


def test_missing_settings_refuse_with_a_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("DATASET_URI", "TARGET", "MODEL_URI", "OUTPUT_URI"):
        monkeypatch.delenv(f"VIGIA_RETRAIN_{name}", raising=False)
    termination = tmp_path / "termination-log"
    code = main(["--target", "quality", "--termination-path", str(termination)])
    assert code == 2
    result = json.loads(termination.read_text())
    assert result["verdict"] == "Refused"
    assert [r["code"] for r in result["reasons"]] == ["InvalidInput"] * 3
    assert "VIGIA_RETRAIN_MODEL_URI" in capsys.readouterr().err
