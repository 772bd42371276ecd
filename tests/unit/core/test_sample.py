from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier

from vigia.bundle import ModelBundle
from vigia.features import FeatureSchema, validate_records
from vigia.sample import (
    CATEGORICAL_FEATURES,
    CLASSES,
    DEFECTIVE,
    NUMERIC_FEATURES,
    SUPPLIERS,
    production_line,
    reference_benchmark_model,
    traffic_records,
)


def defect_rate(y: pd.Series) -> float:
    return float((y == DEFECTIVE).mean())


def test_shape_columns_and_types() -> None:
    X, y = production_line(500, seed=1)
    assert list(X.columns) == [*NUMERIC_FEATURES, *CATEGORICAL_FEATURES]
    assert len(X) == len(y) == 500
    assert set(y) == set(CLASSES)
    schema = FeatureSchema.from_frame(X)
    assert [s.kind for s in schema.features].count("numeric") == 10
    assert set(X["flour_supplier"]) == set(SUPPLIERS)


def test_same_seed_same_data_other_seed_other_data() -> None:
    X1, y1 = production_line(200, seed=7)
    X2, y2 = production_line(200, seed=7)
    X3, _ = production_line(200, seed=8)
    pd.testing.assert_frame_equal(X1, X2)
    pd.testing.assert_series_equal(y1, y2)
    assert not X1.equals(X3)


def test_classes_are_imbalanced_but_both_present() -> None:
    _, y = production_line(5000, seed=2)
    assert 0.1 < defect_rate(y) < 0.35


def test_missing_values_only_in_the_nullable_sensor() -> None:
    X, _ = production_line(5000, seed=3, missing_rate=0.02)
    missing = X.isna().mean()
    assert 0.01 < missing["ambient_temperature"] < 0.03
    assert missing.drop("ambient_temperature").sum() == 0
    assert not production_line(500, seed=3, missing_rate=0.0)[0].isna().any().any()


def test_drift_moves_features_suppliers_and_defects() -> None:
    base, y_base = production_line(5000, seed=4)
    drifted, y_drift = production_line(5000, seed=4, drift=1.0)
    assert drifted["ambient_temperature"].mean() - base["ambient_temperature"].mean() > 4
    assert drifted["dough_humidity"].mean() - base["dough_humidity"].mean() > 2
    share = "molinos_sur"
    assert (drifted["flour_supplier"] == share).mean() > (base["flour_supplier"] == share).mean()
    assert abs(drifted["oven_temperature"].mean() - base["oven_temperature"].mean()) < 0.5
    assert defect_rate(y_drift) > defect_rate(y_base) + 0.1


def test_rule_is_learnable_but_noisy(sample_bundle: ModelBundle) -> None:
    metrics = sample_bundle.metadata.training_metrics
    assert 0.75 < metrics["accuracy"] < 0.99


def test_bad_size_is_refused() -> None:
    with pytest.raises(ValueError, match="n must be"):
        production_line(0, seed=1)


def test_traffic_records_are_json_and_valid(sample_bundle: ModelBundle) -> None:
    schema = sample_bundle.metadata.schema
    records, labels = traffic_records(400, seed=9, drift=0.5)
    json.loads(json.dumps(records, allow_nan=False))
    assert any(r["ambient_temperature"] is None for r in records)
    assert len(validate_records(schema, records)) == len(labels) == 400


def test_reference_benchmark_model() -> None:
    bundle = reference_benchmark_model(rows=600, seed=1)
    forest = bundle.estimator
    assert isinstance(forest, RandomForestClassifier)
    assert forest.n_estimators == 50
    assert bundle.metadata.schema.names == tuple(NUMERIC_FEATURES)
    records, _ = traffic_records(5, seed=2, numeric_only=True)
    proba = bundle.predict_proba(validate_records(bundle.metadata.schema, records))
    assert proba.shape == (5, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_the_weight_sample_drifts_into_larger_errors() -> None:
    from vigia.sample import SAMPLE_KINDS, baked_weights, train_weight_model

    bundle = train_weight_model(rows=1500, seed=4)
    assert bundle.metadata.task == "regression"
    errors = []
    for drift in (0.0, 1.0):
        X, y = baked_weights(1500, seed=9, drift=drift)
        errors.append(float(np.mean(np.abs(bundle.predict_values(X) - y))))
    assert errors[0] < 3.0 and errors[1] > 2 * errors[0]
    from vigia import cli

    kinds = cli.build_parser().parse_args(["sample", "traffic", "--out", "-", "--kind", "weight"])
    assert kinds.kind in SAMPLE_KINDS
