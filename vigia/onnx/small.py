"""A small model for a device with a size budget: the smallest forest within a point.

The bundle's forest (a RandomForest / ExtraTrees, alone or as a Pipeline's last step) is
refitted on the training rows for every (trees, depth) on a grid; each candidate's
accuracy is measured on the holdout, and the one with the fewest tree nodes (what sets the
ONNX graph's size and the runner's time per row) among those within ``tolerance`` of the
full model's accuracy is kept. It is compiled and parity-checked like the full one
(vigia.onnx.export): a small model whose parity fails is not written either.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.pipeline import Pipeline

from vigia.bundle import BundleError, ModelBundle, make_bundle
from vigia.onnx.export import Compiled, compile_bundle

TREES = (5, 10, 15, 20, 30, 40, 60, 100)
DEPTHS = (3, 4, 5, 6, 8, 10, 12, None)
# One point of accuracy on the holdout.
DEFAULT_TOLERANCE = 0.01
SMALL_SUFFIX = "-small"


@dataclass(frozen=True)
class Candidate:
    trees: int
    depth: int | None
    nodes: int
    accuracy: float


@dataclass(frozen=True)
class SmallModel:
    compiled: Compiled
    chosen: Candidate
    full: Candidate
    candidates: tuple[Candidate, ...]

    @property
    def accuracy_loss(self) -> float:
        return self.full.accuracy - self.chosen.accuracy


def _forest_step(estimator: Any) -> tuple[Any, str]:
    """The forest and the prefix its parameters take in ``estimator.set_params``."""
    if isinstance(estimator, Pipeline):
        name, step = estimator.steps[-1]
        return step, f"{name}__"
    return estimator, ""


def node_count(estimator: Any) -> int:
    forest, _ = _forest_step(estimator)
    if not hasattr(forest, "estimators_"):
        raise BundleError(f"{type(forest).__name__} is not a forest: no small model to search")
    return int(sum(tree.tree_.node_count for tree in forest.estimators_))


def accuracy(estimator: Any, classes: tuple[str, ...], X: pd.DataFrame, y: Any) -> float:
    proba = np.asarray(estimator.predict_proba(X))
    predicted = np.asarray(classes)[proba.argmax(axis=1)]
    return float(np.mean(predicted == np.asarray(y).astype(str)))


def _candidate(estimator: Any, classes: tuple[str, ...], holdout: tuple[pd.DataFrame, Any],
               trees: int, depth: int | None) -> Candidate:
    return Candidate(trees, depth, node_count(estimator), accuracy(estimator, classes, *holdout))


def smallest_forest(
    bundle: ModelBundle,
    X_train: pd.DataFrame,
    y_train: Any,
    X_holdout: pd.DataFrame,
    y_holdout: Any,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    trees: tuple[int, ...] = TREES,
    depths: tuple[int | None, ...] = DEPTHS,
) -> SmallModel:
    """The smallest forest within ``tolerance`` of the full model, compiled with parity."""
    meta = bundle.metadata
    classes = tuple(meta.classes)
    forest, prefix = _forest_step(bundle.estimator)
    full = Candidate(len(forest.estimators_), forest.max_depth, node_count(bundle.estimator),
                     accuracy(bundle.estimator, classes, X_holdout, y_holdout))
    fitted: list[tuple[Candidate, Any]] = []
    for n in trees:
        for depth in depths:
            model = clone(bundle.estimator).set_params(
                **{f"{prefix}n_estimators": n, f"{prefix}max_depth": depth})
            model.fit(X_train, y_train)
            fitted.append((_candidate(model, classes, (X_holdout, y_holdout), n, depth), model))
    within = [(c, m) for c, m in fitted if c.accuracy >= full.accuracy - tolerance]
    chosen, model = min(within, key=lambda pair: pair[0].nodes) if within else (full, None)
    if model is None:  # nothing smaller is good enough: the full model is the small one
        model = bundle.estimator
    small = make_bundle(model, X_train, y_train, name=meta.name,
                        version=meta.version + SMALL_SUFFIX, X_holdout=X_holdout,
                        y_holdout=y_holdout)
    compiled = compile_bundle(small, X_holdout[list(meta.schema.names)])
    return SmallModel(compiled, chosen, full, tuple(c for c, _ in fitted))


def runner_seconds_per_row(compiled: Compiled, rows: list[dict[str, Any]],
                           repeats: int = 20) -> float:
    """The device runner's median time per row on ``rows`` (one thread)."""
    runner = compiled.runner()
    runner.predict_proba(rows)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        runner.predict_proba(rows)
        times.append(time.perf_counter() - started)
    return float(np.median(times)) / len(rows)
