"""Per-row feature attributions with SHAP's TreeExplainer.

TreeExplainer computes exact Shapley values for tree ensembles in polynomial time and
needs no background data. For a Pipeline the trees see transformed columns (one-hot
categories, imputed numbers); attributions of the columns made from one input feature
are summed back to that feature, which SHAP's additivity makes exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline


class UnsupportedModelError(Exception):
    """The model is not one the explainer can attribute exactly."""


class TreeAttributor:
    """Attributions of each input feature to the predicted class's probability."""

    def __init__(self, estimator: Any, feature_names: Sequence[str]) -> None:
        import shap  # slow import, only when /explain is first used

        self.feature_names = list(feature_names)
        self._prepare, model = _split(estimator)
        try:
            self._explainer = shap.TreeExplainer(model)
        except Exception as exc:
            raise UnsupportedModelError(
                f"/explain needs a tree-based model; {type(model).__name__}: {exc}"
            ) from exc
        self._columns: np.ndarray | None = None
        if self._prepare is not None:
            self._columns = _column_owner(self._prepare, self.feature_names)

    def explain(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(attributions [rows, features, classes], base values [rows, classes])."""
        data: Any = frame if self._prepare is None else self._prepare.transform(frame)
        if hasattr(data, "toarray"):
            data = data.toarray()
        explanation = self._explainer(data, check_additivity=False)
        values = np.asarray(explanation.values, dtype=np.float64)
        base = np.asarray(explanation.base_values, dtype=np.float64)
        if values.ndim == 2:  # one output: make it [rows, columns, 1]
            values, base = values[:, :, None], base.reshape(len(frame), 1)
        if self._columns is not None:
            values = _sum_by_owner(values, self._columns, len(self.feature_names))
        return values, base


def _split(estimator: Any) -> tuple[Any | None, Any]:
    if isinstance(estimator, Pipeline):
        if len(estimator.steps) == 1:
            return None, estimator.steps[-1][1]
        return estimator[:-1], estimator.steps[-1][1]
    return None, estimator


def _column_owner(prepare: Any, features: list[str]) -> np.ndarray:
    """For each transformed column, the index of the input feature it was made from."""
    steps = prepare.steps if isinstance(prepare, Pipeline) else [("only", prepare)]
    transformers = [s for _, s in steps if isinstance(s, ColumnTransformer)]
    if len(steps) != 1 or len(transformers) != 1:
        raise UnsupportedModelError(
            "/explain supports a Pipeline of one ColumnTransformer and a tree model"
        )
    ct = transformers[0]
    owner = np.full(sum(s.stop - s.start for s in ct.output_indices_.values()), -1)
    for name, transformer, columns in ct.transformers_:
        out = ct.output_indices_[name]
        if out.stop == out.start:
            continue
        inputs = [features.index(c) if isinstance(c, str) else int(c) for c in columns]
        owner[out] = _owners_within(transformer, columns, inputs, out.stop - out.start)
    if (owner < 0).any():
        raise UnsupportedModelError("cannot map transformed columns back to input features")
    return owner


def _owners_within(transformer: Any, columns: Any, inputs: list[int], width: int) -> list[int]:
    if width == len(inputs):
        return inputs
    names = [str(n) for n in transformer.get_feature_names_out([str(c) for c in columns])]
    owners = []
    for name in names:
        matches = [i for c, i in zip(columns, inputs, strict=True) if name.startswith(f"{c}_")]
        if not matches:
            raise UnsupportedModelError(f"cannot map column {name!r} to an input feature")
        owners.append(max(matches, key=lambda i: len(str(columns[inputs.index(i)]))))
    return owners


def _sum_by_owner(values: np.ndarray, owner: np.ndarray, n_features: int) -> np.ndarray:
    rows, _, outputs = values.shape
    summed = np.zeros((rows, n_features, outputs))
    for feature in range(n_features):
        summed[:, feature, :] = values[:, owner == feature, :].sum(axis=1)
    return summed
