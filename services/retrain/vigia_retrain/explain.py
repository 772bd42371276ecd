"""Global explanations of the candidate: permutation importance and droppable features.

Permutation importance, not SHAP: it works for any estimator (a whole Pipeline, on the
raw input columns, where TreeExplainer needs trees and unpicks one-hot columns), it is
measured in the gate's own currency (accuracy lost on rows the model never saw), and
"how much accuracy is lost without this feature's information" is exactly the question
behind "which features could be dropped". The server already gives per-row SHAP
attributions (/explain); this is the global, held-out view. Because correlated
features can each look unimportant, the droppable set is then checked together: the
candidate is refit with those features neutralised (a constant: the training median
or most frequent value) and its accuracy loss is measured.

For a regressor (``regression=True``) the currency is its mean absolute error, relative to
the candidate's own: a feature's importance is the share by which shuffling it raises the
MAE (0.05: five percent more error), so the same ``drop_tolerance`` reads the same way.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.inspection import permutation_importance
from sklearn.metrics import accuracy_score

from vigia_retrain.training import fit_candidate

REPEATS = 5


def feature_importance(
    estimator: Any, X: pd.DataFrame, y: pd.Series, *, seed: int, regression: bool = False
) -> dict[str, dict[str, float]]:
    """Mean and spread of the accuracy lost (a regressor's: the relative MAE gained) when
    each feature is shuffled, largest first."""
    truth = np.asarray(y, dtype=np.float64) if regression else np.asarray(y).astype(str)
    result = permutation_importance(
        estimator, X, truth, scoring="neg_mean_absolute_error" if regression else "accuracy",
        n_repeats=REPEATS, random_state=seed, n_jobs=1,
    )
    scale = 1.0
    if regression:
        scale = max(_mae(truth, estimator.predict(X)), np.finfo(float).tiny)
    order = np.argsort(-result.importances_mean)
    return {
        str(X.columns[i]): {
            "mean": float(result.importances_mean[i]) / scale,
            "std": float(result.importances_std[i]) / scale,
        }
        for i in order
    }


def _mae(truth: np.ndarray, predicted: Any) -> float:
    return float(np.mean(np.abs(truth - np.asarray(predicted, dtype=np.float64))))


def droppable(importance: dict[str, dict[str, float]], tolerance: float) -> list[str]:
    """Features whose shuffling costs at most ``tolerance`` accuracy."""
    return [name for name, value in importance.items() if value["mean"] <= tolerance]


def drop_check(
    candidate: Any,
    features: list[str],
    X_train: pd.DataFrame,
    y_train: pd.Series,
    X_eval: pd.DataFrame,
    y_eval: pd.Series,
    regression: bool = False,
) -> dict[str, Any]:
    """Accuracy of the candidate refit without the information in ``features`` (a
    regressor's: its MAE, and the loss as the relative rise of it)."""
    if regression:
        return _error_drop_check(candidate, features, X_train, y_train, X_eval, y_eval)
    truth = np.asarray(y_eval).astype(str)
    before = float(accuracy_score(truth, np.asarray(candidate.predict(X_eval)).astype(str)))
    if not features:
        return {"features": [], "accuracy": before, "accuracyWithout": before, "loss": 0.0}
    constants = {name: _constant(X_train[name]) for name in features}
    refit = fit_candidate(candidate, _neutralised(X_train, constants), y_train)
    after_pred = np.asarray(refit.predict(_neutralised(X_eval, constants))).astype(str)
    after = float(accuracy_score(truth, after_pred))
    return {"features": features, "accuracy": before, "accuracyWithout": after,
            "loss": before - after}


def _error_drop_check(
    candidate: Any, features: list[str], X_train: pd.DataFrame, y_train: pd.Series,
    X_eval: pd.DataFrame, y_eval: pd.Series,
) -> dict[str, Any]:
    truth = np.asarray(y_eval, dtype=np.float64)
    before = _mae(truth, candidate.predict(X_eval))
    if not features:
        return {"features": [], "mae": before, "maeWithout": before, "loss": 0.0}
    constants = {name: _constant(X_train[name]) for name in features}
    refit = fit_candidate(candidate, _neutralised(X_train, constants), y_train)
    after = _mae(truth, refit.predict(_neutralised(X_eval, constants)))
    loss = 0.0 if before == 0 else (after - before) / before
    return {"features": features, "mae": before, "maeWithout": after, "loss": loss}


def _constant(column: pd.Series) -> Any:
    present = column.dropna()
    if pd.api.types.is_numeric_dtype(column):
        return float(present.median()) if len(present) else 0.0
    return present.mode().iloc[0] if len(present) else None


def _neutralised(X: pd.DataFrame, constants: dict[str, Any]) -> pd.DataFrame:
    out = X.copy()
    for name, value in constants.items():
        out[name] = value
    return out
