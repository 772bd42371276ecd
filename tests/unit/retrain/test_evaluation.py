"""Both models compared on the same rows: accuracy, and with error costs their expected cost."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.dummy import DummyClassifier
from vigia_retrain.evaluation import compare

from vigia.costs import CostTable, ErrorCost

COSTS = CostTable((ErrorCost("good", "defective", 10.0), ErrorCost("defective", "good", 1.0)),
                  "EUR per 1,000 cakes")


def constant(label: str, X: pd.DataFrame, y: pd.Series) -> DummyClassifier:
    return DummyClassifier(strategy="constant", constant=label).fit(X, y)


def test_the_candidate_more_accurate_but_costlier_shows_its_cost_increase() -> None:
    # 900 good, 100 defective: calling everything good is 90% accurate and lets every
    # defective one pass (10 each: 1,000 per 1,000); calling everything defective is 10%
    # accurate and throws 900 good away (1 each: 900 per 1,000).
    X = pd.DataFrame({"x": np.zeros(1000)})
    y = pd.Series(["good"] * 900 + ["defective"] * 100)
    careful, lenient = constant("defective", X, y), constant("good", X, y)
    found = compare(careful, lenient, X, y, COSTS)
    assert found["improvement"] == pytest.approx(0.8)
    assert found["current"]["cost"] == pytest.approx(900.0)
    assert found["candidate"]["cost"] == pytest.approx(1000.0)
    assert found["costIncrease"] == pytest.approx(100.0)
    assert found["costUnit"] == "EUR per 1,000 cakes"
    assert "costIncrease" not in compare(careful, lenient, X, y)
