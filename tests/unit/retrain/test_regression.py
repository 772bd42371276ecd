"""The Job's pieces for a regressor: numeric targets and feedback values, the MAE
comparison, and the gate's findings in the model's units."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression
from vigia_retrain import gate, regression
from vigia_retrain.dataset import read_dataset
from vigia_retrain.errors import RetrainInputError
from vigia_retrain.explain import drop_check, feature_importance

from vigia.retraining import Reason

LIMITS = gate.Thresholds(min_improvement=0.1, max_holdout_loss=0.02,
                         max_parity_difference=0.1, min_group_size=30)


def test_a_numeric_target_is_read_as_numbers(tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": np.arange(30.0), "w": np.arange(30.0) * 2})
    frame.to_csv(tmp_path / "d.csv", index=False)
    _, y = read_dataset(str(tmp_path / "d.csv"), "w", ["a"], numeric=True)
    assert y.dtype == np.float64 and y.iloc[3] == 6.0
    frame.assign(w=["x", *list(frame["w"][1:])]).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(RetrainInputError, match="1 target values are not finite numbers"):
        read_dataset(str(tmp_path / "bad.csv"), "w", ["a"], numeric=True)


def test_the_comparison_is_the_relative_mae_reduction() -> None:
    X = pd.DataFrame({"a": np.arange(40.0)})
    y = pd.Series(3 * X["a"] + 1)
    exact = LinearRegression().fit(X, y)
    off = LinearRegression().fit(X, y + 2.0)
    compared = regression.compare(off, exact, X, y)
    assert compared["metric"] == "mae" and compared["rows"] == 40
    assert compared["current"]["mae"] == pytest.approx(2.0)
    assert compared["improvement"] == pytest.approx(1.0)


def test_the_gate_speaks_of_mae() -> None:
    small = {"rows": 300, "metric": "mae", "current": {"mae": 5.7, "rmse": 7.0},
             "candidate": {"mae": 5.5, "rmse": 6.8}, "improvement": 0.2 / 5.7}
    worse = {"rows": 600, "metric": "mae", "current": {"mae": 2.0, "rmse": 2.5},
             "candidate": {"mae": 2.2, "rmse": 2.7}, "improvement": -0.1}
    findings = gate.decide(worse, small, [], LIMITS)
    assert [f.code for f in findings] == [Reason.NOT_ENOUGH_IMPROVEMENT,
                                          Reason.HOLDOUT_REGRESSION]
    assert findings[0].message == ("MAE on recent feedback (300 rows) 5.7 -> 5.5: reduction "
                                   "+3.51% is below minImprovement +10.00%")
    assert findings[1].message == ("MAE on the original holdout (600 rows) 2 -> 2.2: 10.00% "
                                   "more error exceeds maxHoldoutLoss 2.00%")


def test_importance_and_the_drop_check_are_shares_of_the_error() -> None:
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"signal": rng.normal(size=200), "noise": rng.normal(size=200)})
    y = pd.Series(5 * X["signal"] + rng.normal(0, 0.5, 200))
    model = LinearRegression().fit(X, y)
    importance = feature_importance(model, X, y, seed=0, regression=True)
    assert list(importance) == ["signal", "noise"]
    assert importance["signal"]["mean"] > 5 and abs(importance["noise"]["mean"]) < 0.05
    check = drop_check(model, ["noise"], X, y, X, y, regression=True)
    assert set(check) == {"features", "mae", "maeWithout", "loss"}
    assert abs(check["loss"]) < 0.05
