"""How well a model does on labelled rows: accuracy and macro F1."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score

from vigia.costs import CostTable


def predict_labels(estimator: Any, X: pd.DataFrame) -> np.ndarray:
    return np.asarray(estimator.predict(X)).astype(str)


def scores(y_true: pd.Series, y_pred: np.ndarray) -> dict[str, float]:
    truth = np.asarray(y_true).astype(str)
    return {
        "rows": float(len(truth)),
        "accuracy": float(accuracy_score(truth, y_pred)),
        "f1Macro": float(f1_score(truth, y_pred, average="macro", zero_division=0)),
    }


def compare(current: Any, candidate: Any, X: pd.DataFrame, y: pd.Series,
            costs: CostTable | None = None) -> dict[str, Any]:
    """Both models on the same rows, and the candidate's accuracy gain; with ``costs``
    (spec.monitoring.costs) also each one's expected cost per 1,000 predictions and the
    candidate's increase over the current model."""
    now_pred, new_pred = predict_labels(current, X), predict_labels(candidate, X)
    now, new = scores(y, now_pred), scores(y, new_pred)
    found: dict[str, Any] = {
        "rows": len(X),
        "current": {k: v for k, v in now.items() if k != "rows"},
        "candidate": {k: v for k, v in new.items() if k != "rows"},
        "improvement": new["accuracy"] - now["accuracy"],
    }
    if costs is not None:
        old_cost, new_cost = expected_cost(costs, y, now_pred), expected_cost(costs, y, new_pred)
        if old_cost is not None and new_cost is not None:
            found["current"]["cost"], found["candidate"]["cost"] = old_cost, new_cost
            found["costIncrease"] = new_cost - old_cost
            found["costUnit"] = costs.unit
    return found


def expected_cost(costs: CostTable, y_true: pd.Series, y_pred: np.ndarray) -> float | None:
    """The expected cost of the errors per 1,000 predictions on these rows."""
    cells: dict[tuple[str, str], float] = {}
    for actual, predicted in zip(np.asarray(y_true).astype(str), y_pred, strict=True):
        cells[(actual, predicted)] = cells.get((actual, predicted), 0.0) + 1.0
    estimate = costs.estimate(cells)
    return None if estimate is None else estimate.value
