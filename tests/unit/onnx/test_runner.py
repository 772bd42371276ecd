from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from vigia.bundle import ModelBundle
from vigia.onnx.export import Compiled, write_compiled
from vigia.onnx.runner import OnnxModel, RowError
from vigia.sample import traffic_records


def test_predictions_match_scikit_learn(sample_bundle: ModelBundle, compiled: Compiled) -> None:
    from vigia.features import validate_records

    records, _ = traffic_records(300, seed=5)
    onnx_proba = compiled.runner().predict_proba(records)
    frame = validate_records(sample_bundle.metadata.schema, records)
    assert np.abs(onnx_proba - sample_bundle.predict_proba(frame)).max() < 1e-3
    predictions = compiled.runner().predict(records[:2])
    assert set(predictions[0]["probabilities"]) == {"defective", "good"}
    assert predictions[0]["class"] in {"defective", "good"}


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"shift": "evening"}, "rows[1].shift", "unknown category 'evening'"),
        ({"oven_temperature": "hot"}, "rows[1].oven_temperature", "expected a number, got str"),
        ({"oven_temperature": None}, "rows[1].oven_temperature", "must not be null"),
        ({"line_speed": float("inf")}, "rows[1].line_speed", "must be a finite number"),
    ],
)
def test_bad_rows_are_refused_naming_the_field(
    compiled: Compiled, change: dict[str, object], field: str, message: str
) -> None:
    records, _ = traffic_records(2, seed=5)
    records[1].update(change)
    with pytest.raises(RowError, match=message) as caught:
        compiled.runner().predict(records)
    assert caught.value.field == field


def test_missing_feature_is_named(compiled: Compiled) -> None:
    records, _ = traffic_records(1, seed=5)
    del records[0]["egg_ratio"]
    with pytest.raises(RowError, match=r"rows\[0\]\.egg_ratio: missing"):
        OnnxModel(compiled.model, compiled.manifest).predict(records)


def test_runner_process_imports_no_scikit_learn(tmp_path: Path, compiled: Compiled) -> None:
    write_compiled(compiled, tmp_path)
    records, _ = traffic_records(3, seed=6)
    probe = (
        "import sys, runpy; sys.argv = ['runner', sys.argv[1]];"
        "from vigia.onnx import runner; code = runner.main([sys.argv[1]]);"
        "heavy = [m for m in ('sklearn', 'pandas', 'skl2onnx', 'bentoml') if m in sys.modules];"
        "sys.stderr.write('heavy=' + ','.join(heavy)); sys.exit(code)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, str(tmp_path)],
        input="\n".join(json.dumps(r) for r in records),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.endswith("heavy="), done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(lines) == 3
    assert lines[0]["version"] == compiled.manifest.version
    expected = compiled.runner().predict(records)
    assert [line["class"] for line in lines] == [p["class"] for p in expected]
