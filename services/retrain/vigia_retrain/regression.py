"""How well a regressor does on rows with true values, in its own units (pure).

The gate's currency for a regressor is its mean absolute error: ``improvement`` is the
relative reduction of MAE, (current - candidate) / current, so ``minImprovement`` and
``maxHoldoutLoss`` read as shares whatever the units (0.02: two percent less error).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from vigia.regression import mae, rmse

METRIC = "mae"


def predict_values(estimator: Any, X: pd.DataFrame) -> np.ndarray:
    return np.asarray(estimator.predict(X), dtype=np.float64).reshape(len(X))


def scores(y_true: pd.Series, predicted: np.ndarray) -> dict[str, float]:
    pair = (np.asarray(y_true, dtype=np.float64), predicted)
    return {"mae": mae(pair), "rmse": rmse(pair)}


def compare(current: Any, candidate: Any, X: pd.DataFrame, y: pd.Series) -> dict[str, Any]:
    """Both models on the same rows, and the candidate's relative MAE reduction."""
    now = scores(y, predict_values(current, X))
    new = scores(y, predict_values(candidate, X))
    reduction = 0.0 if now["mae"] == 0 else (now["mae"] - new["mae"]) / now["mae"]
    return {"rows": len(X), "metric": METRIC, "current": now, "candidate": new,
            "improvement": reduction}


def is_error_comparison(judged: dict[str, Any]) -> bool:
    return judged.get("metric") == METRIC
