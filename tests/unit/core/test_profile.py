from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from vigia import metrics
from vigia.profile import MISSING, NUMERIC_BINS, TrainingProfile, build_profile


@pytest.fixture
def profile() -> TrainingProfile:
    rng = np.random.default_rng(0)
    n = 1000
    X = pd.DataFrame(
        {
            "uniform": np.arange(n, dtype=float),  # 0..999: deciles at 99.9, 199.8, ...
            "discrete": rng.integers(0, 3, n).astype(float),  # many ties
            "sparse": np.where(np.arange(n) % 4 == 0, np.nan, rng.normal(size=n)),
            "colour": rng.choice(["red", "green", "blue"], n, p=[0.5, 0.3, 0.2]),
        }
    )
    y = np.where(np.arange(n) < 250, "bad", "good")
    p_good = np.linspace(0.0, 1.0, n)
    proba = np.column_stack([1 - p_good, p_good])
    return build_profile(X, y, proba)


def test_numeric_features_get_decile_edges(profile: TrainingProfile) -> None:
    uniform = profile.numeric["uniform"]
    assert len(uniform.edges) == 9
    np.testing.assert_allclose(uniform.edges, np.quantile(np.arange(1000.0), np.arange(1, 10) / 10))
    assert (uniform.minimum, uniform.maximum, uniform.missing_share) == (0.0, 999.0, 0.0)
    assert profile.bin_labels("uniform") == NUMERIC_BINS


def test_bin_indices_are_vectorised_with_missing_as_minus_one(profile: TrainingProfile) -> None:
    values = np.array([-5.0, 0.0, 99.0, 100.0, 555.0, 999.0, 5000.0, np.nan])
    assert profile.bin_indices("uniform", values).tolist() == [0, 0, 0, 1, 5, 9, 9, MISSING]


def test_categorical_bin_indices(profile: TrainingProfile) -> None:
    labels = profile.bin_labels("colour")
    assert labels == ("blue", "green", "red")
    values = np.array(["red", "blue", None, np.nan, "purple"], dtype=object)
    assert profile.bin_indices("colour", values).tolist() == [2, 0, MISSING, MISSING, MISSING]


@pytest.mark.parametrize("feature", ["uniform", "discrete", "sparse", "colour"])
def test_reference_shares_sum_to_one(profile: TrainingProfile, feature: str) -> None:
    shares = profile.reference_shares(feature)
    assert math.isclose(sum(shares.values()), 1.0)
    assert all(0.0 <= s <= 1.0 for s in shares.values())


def test_equal_frequency_bins_hold_a_tenth_each(profile: TrainingProfile) -> None:
    shares = profile.reference_shares("uniform")
    assert list(shares) == list(NUMERIC_BINS)
    assert all(math.isclose(s, 0.1) for s in shares.values())


def test_ties_are_measured_not_assumed(profile: TrainingProfile) -> None:
    # Three distinct values: only three bins can hold training rows.
    shares = profile.reference_shares("discrete")
    assert sum(1 for s in shares.values() if s > 0) == 3


def test_missing_values_are_excluded_from_shares(profile: TrainingProfile) -> None:
    assert math.isclose(profile.numeric["sparse"].missing_share, 0.25)
    shares = profile.reference_shares("sparse").values()
    assert all(math.isclose(s, 0.1, abs_tol=0.01) for s in shares)


def test_category_frequencies(profile: TrainingProfile) -> None:
    shares = profile.reference_shares("colour")
    assert shares["red"] > shares["green"] > shares["blue"] > 0.1


def test_class_priors(profile: TrainingProfile) -> None:
    assert profile.class_priors == {"bad": 0.25, "good": 0.75}


def test_confidence_distribution(profile: TrainingProfile) -> None:
    confidence = profile.confidence
    assert confidence is not None
    assert confidence.buckets == tuple(float(b) for b in metrics.CONFIDENCE_BUCKETS)
    assert list(confidence.cumulative_shares) == sorted(confidence.cumulative_shares)
    assert confidence.cumulative_shares[-1] == 1.0
    # max(p, 1-p) for p uniform on [0, 1] is uniform on [0.5, 1]: 20% at or below 0.6.
    assert math.isclose(confidence.cumulative_shares[1], 0.2, abs_tol=0.01)
    assert len(confidence.deciles) == 9
    assert math.isclose(confidence.mean, 0.75, abs_tol=0.01)


def test_out_of_range(profile: TrainingProfile) -> None:
    mask = profile.numeric["uniform"].out_of_range(np.array([-1.0, 0.0, 999.0, 1000.0, np.nan]))
    assert mask.tolist() == [True, False, False, True, False]


def test_profile_round_trips_through_json(profile: TrainingProfile) -> None:
    restored = TrainingProfile.from_dict(json.loads(json.dumps(profile.to_dict())))
    assert restored == profile
    values = np.array([3.0, 450.0, np.nan])
    assert restored.bin_indices("uniform", values).tolist() == [0, 4, MISSING]


def test_unknown_feature_is_a_key_error(profile: TrainingProfile) -> None:
    with pytest.raises(KeyError, match="nope"):
        profile.reference_shares("nope")


def test_a_regressors_output_is_profiled_like_a_numeric_feature() -> None:
    from vigia.profile import build_regression_profile

    X = pd.DataFrame({"a": np.arange(100.0)})
    profile = build_regression_profile(X, np.linspace(0.0, 50.0, 100))
    assert profile.prediction is not None and profile.confidence is None
    assert profile.class_priors == pytest.approx({str(i): 0.1 for i in range(10)})
    again = TrainingProfile.from_dict(profile.to_dict())
    assert again.prediction == profile.prediction and again.confidence is None
