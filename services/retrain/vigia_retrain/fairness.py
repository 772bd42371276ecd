"""Fairness across the groups of a sensitive feature, with fairlearn.

For each class (one-vs-rest; for two classes one suffices, the figures are symmetric):
demographic parity difference (largest gap in the rate of predicting that class) and
equalized odds difference (largest gap in true- or false-positive rate). Groups with
fewer than ``min_group_size`` rows are left out; a rate a group cannot have (no
positives for the true-positive rate) is left out rather than counted as 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from fairlearn.metrics import MetricFrame, demographic_parity_difference, selection_rate

MISSING_GROUP = "<missing>"


@dataclass
class FeatureFairness:
    """One sensitive feature: the worst gaps over classes, and the groups behind them."""

    feature: str
    evaluable: bool
    demographic_parity_difference: float | None = None
    equalized_odds_difference: float | None = None
    worst_class: str | None = None
    groups: dict[str, dict[str, float | None]] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "evaluable": self.evaluable,
            "demographicParityDifference": self.demographic_parity_difference,
            "equalizedOddsDifference": self.equalized_odds_difference,
            "class": self.worst_class,
            "groups": self.groups,
            "skippedGroups": self.skipped,
        }


def feature_fairness(
    feature: str,
    values: pd.Series,
    y_true: pd.Series,
    y_pred: np.ndarray,
    classes: Sequence[str],
    *,
    min_group_size: int,
) -> FeatureFairness:
    groups = values.astype(object).where(values.notna(), MISSING_GROUP).astype(str)
    counts = groups.value_counts()
    kept = counts[counts >= min_group_size]
    skipped = {str(g): int(n) for g, n in counts[counts < min_group_size].items()}
    if len(kept) < 2:
        return FeatureFairness(feature, evaluable=False, skipped=skipped)
    mask = groups.isin(kept.index).to_numpy()
    truth, predicted = np.asarray(y_true).astype(str)[mask], np.asarray(y_pred)[mask]
    labels = groups.to_numpy()[mask]
    one_vs_rest = list(classes) if len(classes) > 2 else list(classes[-1:])
    per_class = [_class_gaps(c, truth, predicted, labels) for c in one_vs_rest]
    worst = max(per_class, key=lambda gaps: (max(gaps[1], gaps[2]), gaps[1]))
    return FeatureFairness(
        feature,
        evaluable=True,
        demographic_parity_difference=worst[1],
        equalized_odds_difference=worst[2],
        worst_class=worst[0],
        groups=worst[3],
        skipped=skipped,
    )


def _class_gaps(
    positive: str, truth: np.ndarray, predicted: np.ndarray, labels: np.ndarray
) -> tuple[str, float, float, dict[str, dict[str, float | None]]]:
    t, p = (truth == positive).astype(int), (predicted == positive).astype(int)
    parity = float(demographic_parity_difference(t, p, sensitive_features=labels))
    frame = MetricFrame(
        metrics={"selectionRate": selection_rate, "tpr": _tpr, "fpr": _fpr, "rows": _rows},
        y_true=t,
        y_pred=p,
        sensitive_features=labels,
    )
    by_group = frame.by_group
    odds = max(_spread(by_group["tpr"]), _spread(by_group["fpr"]))
    groups = {
        str(g): {k: _number(v) for k, v in row.items()} for g, row in by_group.iterrows()
    }
    return positive, parity, odds, groups


def _tpr(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    positives = y_true == 1
    return float(y_pred[positives].mean()) if positives.any() else float("nan")


def _fpr(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    negatives = y_true == 0
    return float(y_pred[negatives].mean()) if negatives.any() else float("nan")


def _rows(y_true: np.ndarray, _y_pred: np.ndarray) -> float:
    return float(len(y_true))


def _spread(rates: pd.Series) -> float:
    defined = rates.dropna()
    return float(defined.max() - defined.min()) if len(defined) >= 2 else 0.0


def _number(value: Any) -> float | None:
    """JSON has no NaN: an undefined rate is null."""
    number = float(value)
    return number if np.isfinite(number) else None
