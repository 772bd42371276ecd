"""Splitting the data and fitting the candidate: the current estimator, cloned and refit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import train_test_split

from vigia_retrain.feedback import FeedbackData


@dataclass
class Splits:
    """What the candidate learns from and what the gate judges it on."""

    X_train: pd.DataFrame  # base training part plus the older feedback
    y_train: pd.Series
    X_holdout: pd.DataFrame  # held-out part of the base dataset
    y_holdout: pd.Series
    X_recent: pd.DataFrame  # the newest feedback, never trained on
    y_recent: pd.Series
    base_train_rows: int
    feedback_train_rows: int

    @property
    def X_eval(self) -> pd.DataFrame:
        """Every row the candidate was not trained on: holdout and recent feedback."""
        return _concat([self.X_holdout, self.X_recent])

    @property
    def y_eval(self) -> pd.Series:
        return _concat([self.y_holdout, self.y_recent])


def make_splits(
    X: pd.DataFrame,
    y: pd.Series,
    feedback: FeedbackData | None,
    *,
    holdout_fraction: float,
    feedback_holdout: float,
    seed: int,
) -> Splits:
    """Stratified holdout of the base data; feedback split by time, newest share for the gate."""
    stratify = y if y.value_counts().min() >= 2 else None
    X_base, X_hold, y_base, y_hold = train_test_split(
        X, y, test_size=holdout_fraction, random_state=seed, stratify=stratify
    )
    if feedback is None or feedback.used == 0:
        empty_X, empty_y = X.iloc[:0], y.iloc[:0]
        X_fit, y_fit, X_recent, y_recent = empty_X, empty_y, empty_X, empty_y
    else:
        cut = feedback.used - max(1, round(feedback.used * feedback_holdout))
        X_fit, X_recent = feedback.X.iloc[:cut], feedback.X.iloc[cut:]
        y_fit, y_recent = feedback.y.iloc[:cut], feedback.y.iloc[cut:]
    return Splits(
        X_train=_concat([X_base, _like(X_fit, X)]),
        y_train=_concat([y_base, y_fit]),
        X_holdout=X_hold.reset_index(drop=True),
        y_holdout=y_hold.reset_index(drop=True),
        X_recent=_like(X_recent, X).reset_index(drop=True),
        y_recent=y_recent.reset_index(drop=True),
        base_train_rows=len(X_base),
        feedback_train_rows=len(X_fit),
    )


def fit_candidate(current: Any, X: pd.DataFrame, y: pd.Series) -> Any:
    """An unfitted copy of the current estimator (same pipeline and parameters), refit."""
    return clone(current).fit(X, y)


def _like(frame: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with the reference's column order and, where they convert, its dtypes."""
    frame = frame[list(reference.columns)]
    for name in reference.columns:
        if frame[name].dtype != reference[name].dtype:
            try:
                frame = frame.astype({name: reference[name].dtype})
            except (TypeError, ValueError):
                continue
    return frame


def _concat(parts: list[Any]) -> Any:
    non_empty = [p for p in parts if len(p)]
    if not non_empty:
        return parts[0].iloc[:0]
    return pd.concat(non_empty, ignore_index=True)
