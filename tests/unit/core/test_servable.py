"""The bundle refuses what it cannot serve, when it is made, naming why."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import KMeans
from sklearn.ensemble import IsolationForest, RandomForestRegressor
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from vigia.bundle import BundleError, UnservableModelError, make_bundle, model_task


def _data() -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=120), "b": rng.normal(size=120)})
    return X, (X["a"] > 0).map({True: "yes", False: "no"}).to_numpy(), 2 * X["a"].to_numpy()


X, LABELS, VALUES = _data()


@pytest.mark.parametrize(
    ("estimator", "reason"),
    [
        (LogisticRegression(), "LogisticRegression is not fitted: call fit"),
        (make_pipeline(StandardScaler(), LinearRegression()), "LinearRegression is not fitted"),
        (KMeans(n_clusters=2, n_init=1).fit(X), "KMeans is a clusterer: it has no target"),
        (IsolationForest(n_estimators=5).fit(X), "IsolationForest is an outlier detector"),
        (StandardScaler().fit(X), "StandardScaler is a transformer alone: it predicts nothing"),
        (make_pipeline(StandardScaler()).fit(X), "StandardScaler is a transformer alone"),
        (SVC().fit(X, LABELS), "SVC is a classifier without predict_proba"),
        (object(), "object is not a scikit-learn estimator"),
    ],
)
def test_make_bundle_refuses_what_it_cannot_serve(estimator: Any, reason: str) -> None:
    with pytest.raises(UnservableModelError, match=reason):
        make_bundle(estimator, X, LABELS, name="m", version="1")


def test_classifiers_and_regressors_are_served() -> None:
    assert model_task(LogisticRegression().fit(X, LABELS)) == "classification"
    assert model_task(SVC(probability=True).fit(X, LABELS)) == "classification"
    regressor = make_pipeline(StandardScaler(), RandomForestRegressor(n_estimators=3))
    assert model_task(regressor.fit(X, VALUES)) == "regression"


def test_a_regressor_needs_a_numeric_single_target() -> None:
    model = LinearRegression().fit(X, VALUES)
    with pytest.raises(BundleError, match="y_train: a regressor's target must be numbers"):
        make_bundle(model, X, LABELS, name="m", version="1")
    with pytest.raises(BundleError, match="missing or infinite"):
        make_bundle(model, X, np.where(VALUES > 1, np.nan, VALUES), name="m", version="1")


def test_bundle_create_refuses_a_clusterer_before_reading_data(tmp_path: Path) -> None:
    joblib.dump(KMeans(n_clusters=2, n_init=1).fit(X), tmp_path / "kmeans.joblib")
    done = subprocess.run(
        [sys.executable, "-m", "vigia.cli", "bundle", "create",
         "--estimator", str(tmp_path / "kmeans.joblib"), "--train", str(tmp_path / "absent.csv"),
         "--target", "y", "--name", "m", "--version", "1", "--out", str(tmp_path / "m.bentomodel"),
         "--home", str(tmp_path)],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1
    assert "cannot bundle this model: KMeans is a clusterer" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "m.bentomodel").exists()
