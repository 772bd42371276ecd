from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.tree import DecisionTreeClassifier
from vigia_retrain.explain import drop_check, droppable, feature_importance


def data(n: int, seed: int) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"signal": rng.normal(size=n), "noise": rng.normal(size=n)})
    y = pd.Series(np.where(X["signal"] > 0, "good", "defective"))
    return X, y


def test_the_signal_matters_and_the_noise_can_go() -> None:
    X, y = data(400, 0)
    X_eval, y_eval = data(200, 1)
    model = DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, y)
    importance = feature_importance(model, X_eval, y_eval, seed=0)
    assert list(importance) == ["signal", "noise"]
    assert importance["signal"]["mean"] > 0.3
    assert droppable(importance, 0.005) == ["noise"]
    check = drop_check(model, ["noise"], X, y, X_eval, y_eval)
    assert check["loss"] < 0.02
    assert drop_check(model, ["signal"], X, y, X_eval, y_eval)["loss"] > 0.3
