from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vigia.bundle import ModelBundle
from vigia.onnx.export import Compiled, ParityError, compile_bundle, write_compiled
from vigia.onnx.manifest import MANIFEST_FILE, MODEL_FILE, Manifest
from vigia.onnx.parity import DEFAULT_THRESHOLD, check_parity
from vigia.onnx.runner import OnnxModel
from vigia.sample import production_line, train_sample_model


def test_sample_forest_holds_parity_on_real_rows(
    sample_bundle: ModelBundle, compiled: Compiled
) -> None:
    X, _ = production_line(1000, seed=21)
    report = check_parity(sample_bundle, compiled.runner(), X)
    assert report.passed, report
    assert report.max_probability_difference < DEFAULT_THRESHOLD
    assert report.rows == 1000


def test_a_graph_of_another_model_fails_parity_and_is_not_written(
    sample_bundle: ModelBundle, tmp_path: Path
) -> None:
    other = compile_bundle(train_sample_model(rows=1200, seed=99))
    X, _ = production_line(500, seed=21)
    report = check_parity(sample_bundle, other.runner(), X)
    assert not report.passed
    assert report.max_probability_difference > DEFAULT_THRESHOLD
    with pytest.raises(ParityError, match="parity failed on 500 rows"):
        write_compiled(Compiled(other.model, other.manifest, report), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_written_files_load_in_the_runner(tmp_path: Path, compiled: Compiled) -> None:
    path = write_compiled(compiled, tmp_path)
    assert path == tmp_path / MODEL_FILE and path.stat().st_size == len(compiled.model)
    manifest = Manifest.read(tmp_path / MANIFEST_FILE)
    assert manifest.parity is not None and manifest.parity.passed
    assert manifest.parity.threshold == DEFAULT_THRESHOLD
    runner = OnnxModel.load(tmp_path)
    X, _ = production_line(5, seed=8, missing_rate=0.0)
    rows = [{str(k): v for k, v in r.items()} for r in X.to_dict(orient="records")]
    assert np.allclose(runner.predict_proba(rows), compiled.runner().predict_proba(rows))
