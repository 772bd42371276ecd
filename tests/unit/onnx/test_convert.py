from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder
from sklearn.semi_supervised import LabelSpreading

from vigia.bundle import ModelBundle, make_bundle
from vigia.onnx.convert import UnsupportedModelError, check_supported, to_onnx
from vigia.onnx.export import Compiled, compile_bundle
from vigia.onnx.manifest import LABEL_OUTPUT, PROBABILITIES_OUTPUT
from vigia.sample import NUMERIC_FEATURES, production_line


def _onnx_outputs(model: bytes) -> list[str]:
    import onnx

    return [o.name for o in onnx.load_from_string(model).graph.output]


def test_pipeline_gets_one_input_per_feature_and_no_zipmap(compiled: Compiled) -> None:
    import onnx

    graph = onnx.load_from_string(compiled.model).graph
    assert [i.name for i in graph.input] == [f["name"] for f in compiled.manifest.features]
    assert compiled.manifest.input_mode == "columns"
    assert _onnx_outputs(compiled.model) == [LABEL_OUTPUT, PROBABILITIES_OUTPUT]
    assert not any(node.op_type == "ZipMap" for node in graph.node)


def test_numeric_estimator_takes_one_matrix(numeric_bundle: ModelBundle) -> None:
    model, mode, opsets = to_onnx(numeric_bundle)
    assert mode == "matrix"
    assert "ai.onnx.ml" in opsets
    assert _onnx_outputs(model) == [LABEL_OUTPUT, PROBABILITIES_OUTPUT]


def _bundle(estimator: object, X: pd.DataFrame, y: pd.Series) -> ModelBundle:
    return make_bundle(estimator, X, y, name="odd", version="1")


def test_unsupported_estimator_is_refused_by_name() -> None:
    X, y = production_line(200, seed=2, missing_rate=0.0)
    X = X[list(NUMERIC_FEATURES)[:3]]
    bundle = _bundle(LabelSpreading().fit(X, y), X, y)
    with pytest.raises(UnsupportedModelError, match=r"^model: LabelSpreading has no ONNX"):
        check_supported(bundle)


def test_unsupported_step_is_named_with_its_place_in_the_pipeline() -> None:
    X, y = production_line(200, seed=2, missing_rate=0.0)
    X = X[["oven_temperature", "shift"]]
    encode = ColumnTransformer(
        [("num", "passthrough", ["oven_temperature"]), ("cat", OneHotEncoder(), ["shift"])]
    )
    model = Pipeline([("prep", encode), ("clf", LabelSpreading())]).fit(X, y)
    with pytest.raises(UnsupportedModelError, match=r"model step 'clf': LabelSpreading"):
        compile_bundle(_bundle(model, X, y))


def test_categorical_feature_without_column_transformer_is_refused() -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier

    X, y = production_line(300, seed=2, missing_rate=0.0)
    X = X[["oven_temperature", "shift"]].astype({"shift": "category"})
    model = HistGradientBoostingClassifier(max_iter=5, categorical_features="from_dtype").fit(X, y)
    with pytest.raises(UnsupportedModelError, match=r"categorical feature 'shift'"):
        check_supported(_bundle(model, X, y))


def test_profile_rows_match_the_schema(sample_bundle: ModelBundle) -> None:
    from vigia.onnx.holdout import profile_rows

    rows = profile_rows(sample_bundle, 500, seed=1)
    assert list(rows.columns) == list(sample_bundle.metadata.schema.names)
    oven = sample_bundle.metadata.profile.numeric["oven_temperature"]
    assert oven.minimum is not None and oven.maximum is not None
    assert rows["oven_temperature"].between(oven.minimum, oven.maximum).all()
    assert set(rows["shift"].dropna()) <= {"morning", "afternoon", "night"}
    assert np.isfinite(sample_bundle.predict_proba(rows)).all()
