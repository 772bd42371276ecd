"""The calibration check of a model on its holdout, and the estimate it allows (see the
package's docstring for the idea and its limit)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.model_selection import KFold

from vigia.calibration import (
    CROSS_FIT_FOLDS,
    ECE_MAX,
    MIN_HOLDOUT_ROWS,
    RELIABILITY_BINS,
)

_DIGITS: Final = 6


@dataclass(frozen=True)
class ReliabilityBin:
    """Holdout rows whose top probability is in [lower, upper): their mean top probability
    and the share of them predicted right."""

    lower: float
    upper: float
    rows: int
    confidence: float | None
    accuracy: float | None


@dataclass(frozen=True)
class Calibration:
    """The bundle's calibration check, stored in its metadata under ``calibration``."""

    rows: int  # holdout rows
    ece_raw: float  # the model's own top probability
    ece: float  # the mapped probability, cross-fitted: the estimate's error in distribution
    ece_max: float
    bins: tuple[ReliabilityBin, ...]  # the reliability diagram of the raw probability
    map_x: tuple[float, ...]  # isotonic map: top probability -> expected share correct
    map_y: tuple[float, ...]
    reason: str | None = None  # why there is no estimate; None: estimable

    @property
    def estimable(self) -> bool:
        return self.reason is None

    def expected_correct(self, top: np.ndarray) -> np.ndarray:
        """Each prediction's chance of being right, from its top probability."""
        return np.interp(top, self.map_x, self.map_y)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows, "ece_raw": self.ece_raw, "ece": self.ece,
            "ece_max": self.ece_max, "reason": self.reason,
            "bins": [vars(b) for b in self.bins],
            "map": {"x": list(self.map_x), "y": list(self.map_y)},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Calibration:
        return cls(
            rows=int(data["rows"]), ece_raw=float(data["ece_raw"]), ece=float(data["ece"]),
            ece_max=float(data["ece_max"]), reason=data.get("reason"),
            bins=tuple(ReliabilityBin(**b) for b in data["bins"]),
            map_x=tuple(float(v) for v in data["map"]["x"]),
            map_y=tuple(float(v) for v in data["map"]["y"]),
        )


def top_probability(proba: np.ndarray) -> np.ndarray:
    return np.asarray(proba, dtype=float).max(axis=1)


def correct(proba: np.ndarray, classes: Sequence[str], y_true: Any) -> np.ndarray:
    """1.0 where the top class is the true one (``y_true``: any sequence or array)."""
    predicted = np.asarray(classes).astype(str)[np.asarray(proba).argmax(axis=1)]
    return (predicted == np.asarray(y_true).astype(str)).astype(float)


def reliability(top: np.ndarray, right: np.ndarray,
                bins: int = RELIABILITY_BINS) -> tuple[ReliabilityBin, ...]:
    """The reliability diagram: equal-width bins of top probability over [0, 1]."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(top, edges[1:-1]), 0, bins - 1)
    out = []
    for b in range(bins):
        inside = index == b
        n = int(inside.sum())
        out.append(ReliabilityBin(
            lower=round(float(edges[b]), _DIGITS), upper=round(float(edges[b + 1]), _DIGITS),
            rows=n,
            confidence=round(float(top[inside].mean()), _DIGITS) if n else None,
            accuracy=round(float(right[inside].mean()), _DIGITS) if n else None))
    return tuple(out)


def expected_calibration_error(top: np.ndarray, right: np.ndarray,
                               bins: int = RELIABILITY_BINS) -> float:
    """Σ over bins of (rows in bin / rows) · |share correct - mean top probability|."""
    total = len(top)
    if total == 0:
        return float("nan")
    return float(sum(b.rows / total * abs((b.accuracy or 0.0) - (b.confidence or 0.0))
                     for b in reliability(top, right, bins) if b.rows))


def _fit_map(top: np.ndarray, right: np.ndarray) -> IsotonicRegression:
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
    return iso.fit(top, right)


def _cross_fitted(top: np.ndarray, right: np.ndarray, seed: int) -> np.ndarray:
    mapped = np.empty_like(top)
    folds = KFold(n_splits=CROSS_FIT_FOLDS, shuffle=True, random_state=seed)
    for fit, held in folds.split(top):
        mapped[held] = _fit_map(top[fit], right[fit]).predict(top[held])
    return mapped


def check_calibration(proba: np.ndarray, classes: Sequence[str], y_true: Any, *,
                      ece_max: float = ECE_MAX, seed: int = 0) -> Calibration:
    """The calibration check of a model on its holdout (probabilities, true classes)."""
    top = top_probability(proba)
    right = correct(proba, classes, y_true)
    rows = len(top)
    if rows < max(MIN_HOLDOUT_ROWS, CROSS_FIT_FOLDS):
        return Calibration(rows, _nan_free(expected_calibration_error(top, right)), 1.0,
                           ece_max, reliability(top, right), (0.0, 1.0), (0.0, 1.0),
                           f"holdout of {rows} rows; an estimate needs {MIN_HOLDOUT_ROWS}")
    iso = _fit_map(top, right)
    ece = expected_calibration_error(_cross_fitted(top, right, seed), right)
    reason = None
    if ece > ece_max:
        reason = (f"calibration error {ece:.3f} on the holdout is above {ece_max:g}: "
                  "its probabilities do not say how often it is right")
    return Calibration(
        rows=rows, ece_raw=round(expected_calibration_error(top, right), _DIGITS),
        ece=round(ece, _DIGITS), ece_max=ece_max, bins=reliability(top, right),
        map_x=tuple(round(float(v), _DIGITS) for v in iso.X_thresholds_),
        map_y=tuple(round(float(v), _DIGITS) for v in iso.y_thresholds_),
        reason=reason)


def estimated_accuracy(calibration: Calibration, proba: np.ndarray) -> float | None:
    """The accuracy to expect on rows with these probabilities; None: not estimable."""
    if not calibration.estimable or len(proba) == 0:
        return None
    return float(calibration.expected_correct(top_probability(proba)).mean())


def _nan_free(value: float) -> float:
    return 0.0 if np.isnan(value) else round(value, _DIGITS)
