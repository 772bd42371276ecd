"""How well a model does on labelled rows: accuracy and macro F1."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score


def predict_labels(estimator: Any, X: pd.DataFrame) -> np.ndarray:
    return np.asarray(estimator.predict(X)).astype(str)


def scores(y_true: pd.Series, y_pred: np.ndarray) -> dict[str, float]:
    truth = np.asarray(y_true).astype(str)
    return {
        "rows": float(len(truth)),
        "accuracy": float(accuracy_score(truth, y_pred)),
        "f1Macro": float(f1_score(truth, y_pred, average="macro", zero_division=0)),
    }


def compare(current: Any, candidate: Any, X: pd.DataFrame, y: pd.Series) -> dict[str, Any]:
    """Both models on the same rows, and the candidate's accuracy gain."""
    now = scores(y, predict_labels(current, X))
    new = scores(y, predict_labels(candidate, X))
    return {
        "rows": len(X),
        "current": {k: v for k, v in now.items() if k != "rows"},
        "candidate": {k: v for k, v in new.items() if k != "rows"},
        "improvement": new["accuracy"] - now["accuracy"],
    }
