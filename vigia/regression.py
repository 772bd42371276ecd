"""What a regressor's errors are: its training metrics and its prediction interval (pure).

Errors are in the model's own units (kilograms, euros, hours). A bundle made with a
holdout carries a split-conformal interval: the half-width ``interval_halfwidth`` is the
quantile of the holdout's absolute errors such that, for new rows like the holdout's, the
true value lies within ``prediction ± half-width`` with probability at least
``INTERVAL_COVERAGE`` (Vovk et al.; it holds for any model, no assumption on its errors).
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np

INTERVAL_COVERAGE: Final = 0.9
# The training metric naming the 90th percentile of absolute errors: a server given no
# tolerance (VIGIA_ERROR_TOLERANCE) judges a prediction off when its error exceeds it.
ABS_ERROR_P90: Final = "abs_error_p90"
INTERVAL_HALFWIDTH: Final = "interval_halfwidth"

Pair = tuple[np.ndarray, np.ndarray]  # (true values, predicted values)


def mae(pair: Pair) -> float:
    true, predicted = pair
    return float(np.mean(np.abs(true - predicted)))


def rmse(pair: Pair) -> float:
    true, predicted = pair
    return float(math.sqrt(np.mean((true - predicted) ** 2)))


def r2(pair: Pair) -> float:
    true, predicted = pair
    total = float(np.sum((true - true.mean()) ** 2))
    if total == 0.0:
        return 0.0
    return 1.0 - float(np.sum((true - predicted) ** 2)) / total


def conformal_halfwidth(pair: Pair, coverage: float = INTERVAL_COVERAGE) -> float:
    """The split-conformal half-width: the ceil((n+1)·coverage)-th smallest absolute error
    (the largest one when n is too small for the coverage)."""
    errors = np.sort(np.abs(pair[0] - pair[1]))
    rank = min(len(errors), math.ceil((len(errors) + 1) * coverage))
    return float(errors[rank - 1])


def regression_metrics(train: Pair, holdout: Pair | None) -> dict[str, float]:
    """Training metrics of a regressor: MAE and RMSE on the training rows; with a holdout,
    its MAE, RMSE, R², and the conformal interval's half-width. ``abs_error_p90`` is
    measured on the holdout when there is one, else on the training rows."""
    result = {
        "rows_train": float(len(train[0])),
        "train_mae": mae(train),
        "train_rmse": rmse(train),
    }
    judged = train
    if holdout is not None:
        judged = holdout
        result.update({
            "rows_holdout": float(len(holdout[0])),
            "mae": mae(holdout),
            "rmse": rmse(holdout),
            "r2": r2(holdout),
            INTERVAL_HALFWIDTH: conformal_halfwidth(holdout),
        })
    result[ABS_ERROR_P90] = float(np.quantile(np.abs(judged[0] - judged[1]), 0.9))
    return result
