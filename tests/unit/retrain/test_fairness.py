from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from vigia_retrain.fairness import MISSING_GROUP, feature_fairness

CLASSES = ["defective", "good"]


def groups_of(sizes: dict[str, int]) -> pd.Series:
    return pd.Series([g for g, n in sizes.items() for _ in range(n)])


def test_alike_groups_have_no_gap() -> None:
    values = groups_of({"a": 40, "b": 40})
    truth = pd.Series(["good", "defective"] * 40)
    result = feature_fairness("g", values, truth, truth.to_numpy(), CLASSES, min_group_size=30)
    assert result.evaluable
    assert result.demographic_parity_difference == pytest.approx(0.0)
    assert result.equalized_odds_difference == pytest.approx(0.0)
    assert result.groups["a"]["rows"] == 40


def test_one_group_always_refused_shows_the_gap() -> None:
    values = groups_of({"day": 50, "night": 50})
    truth = pd.Series(["good", "defective"] * 50)
    predicted = np.where(values == "night", "defective", truth)
    result = feature_fairness("shift", values, truth, predicted, CLASSES, min_group_size=30)
    # class "good": day predicted good half the time, night never.
    assert result.demographic_parity_difference == pytest.approx(0.5)
    assert result.equalized_odds_difference == pytest.approx(1.0)  # TPR 1 vs 0
    assert result.groups["night"]["selectionRate"] == pytest.approx(0.0)


def test_small_groups_are_left_out_and_listed() -> None:
    values = groups_of({"a": 40, "b": 40, "tiny": 5})
    truth = pd.Series(["good"] * 85)
    predicted = np.where(values == "tiny", "defective", "good")
    result = feature_fairness("g", values, truth, predicted, CLASSES, min_group_size=30)
    assert result.skipped == {"tiny": 5}
    assert result.demographic_parity_difference == pytest.approx(0.0)


def test_fewer_than_two_measurable_groups_is_not_evaluable() -> None:
    values = groups_of({"a": 40, "b": 10})
    truth = pd.Series(["good"] * 50)
    result = feature_fairness("g", values, truth, truth.to_numpy(), CLASSES, min_group_size=30)
    assert not result.evaluable
    assert result.skipped == {"b": 10}


def test_a_rate_a_group_cannot_have_is_not_counted_as_zero() -> None:
    values = groups_of({"a": 40, "b": 40})
    # Group b has no "good" rows at all: its true-positive rate is undefined.
    truth = pd.Series(["good", "defective"] * 20 + ["defective"] * 40)
    result = feature_fairness("g", values, truth, truth.to_numpy(), CLASSES, min_group_size=30)
    assert result.equalized_odds_difference == pytest.approx(0.0)
    assert result.groups["b"]["tpr"] is None


def test_missing_values_form_their_own_group() -> None:
    values = pd.Series(["a"] * 40 + [None] * 40)
    truth = pd.Series(["good"] * 80)
    result = feature_fairness("g", values, truth, truth.to_numpy(), CLASSES, min_group_size=30)
    assert set(result.groups) == {"a", MISSING_GROUP}


def test_several_classes_report_the_worst() -> None:
    values = groups_of({"a": 60, "b": 60})
    truth = pd.Series(["x", "y", "z"] * 40)
    predicted = np.where(values == "b", "z", truth)
    result = feature_fairness("g", values, truth, predicted, ["x", "y", "z"], min_group_size=30)
    assert result.worst_class == "z"
    assert result.demographic_parity_difference == pytest.approx(2 / 3)
