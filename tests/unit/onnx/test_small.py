"""The small model: the smallest forest within one point of the full one on the holdout,
compiled and parity-checked like the full one."""

from __future__ import annotations

from pathlib import Path

from sklearn.model_selection import train_test_split

from vigia.bundle import make_bundle
from vigia.onnx.export import compile_bundle, write_compiled
from vigia.onnx.runner import OnnxModel
from vigia.onnx.small import SMALL_SUFFIX, node_count, smallest_forest
from vigia.sample import production_line, sample_pipeline, traffic_records


def test_the_smallest_forest_within_a_point_is_smaller_and_parity_checked(tmp_path: Path) -> None:
    X, y = production_line(3000, seed=5)
    X_train, X_hold, y_train, y_hold = train_test_split(
        X, y, test_size=0.2, random_state=5, stratify=y)
    full = make_bundle(sample_pipeline(5).fit(X_train, y_train), X_train, y_train,
                       name="sobaos", version="9", X_holdout=X_hold, y_holdout=y_hold)
    small = smallest_forest(full, X_train, y_train, X_hold, y_hold,
                            trees=(10, 20, 40), depths=(8, 12, None))
    assert len(small.candidates) == 9
    assert small.accuracy_loss <= 0.01
    assert small.chosen.nodes < small.full.nodes == node_count(full.estimator)
    assert small.chosen.nodes == min(c.nodes for c in small.candidates
                                     if c.accuracy >= small.full.accuracy - 0.01)
    assert small.compiled.parity.passed
    assert small.compiled.manifest.version == "9" + SMALL_SUFFIX
    assert len(small.compiled.model) < len(compile_bundle(full).model)
    write_compiled(small.compiled, tmp_path)
    records, _ = traffic_records(5, seed=6)
    assert len(OnnxModel.load(tmp_path).predict(records)) == 5
