"""The confidence shift test on binned counts, against SciPy and by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from vigia import confidence, metrics

BUCKETS = metrics.CONFIDENCE_BUCKETS


def cumulative(values: np.ndarray) -> dict[float, float]:
    return {b: float(np.mean(values <= b)) for b in BUCKETS}


def test_bin_shares_undo_the_cumulative_form() -> None:
    shares = confidence.bin_shares({0.5: 0.1, 0.6: 0.3, 1.0: 1.0})
    assert shares == pytest.approx({0.5: 0.1, 0.6: 0.2, 1.0: 0.7, math.inf: 0.0})


@pytest.mark.parametrize("df", [2, 5, 8, 20])
def test_the_chi_square_tail_is_close_to_the_exact_one(df: int) -> None:
    for p in (0.05, 0.01, 0.001):
        critical = stats.chi2.isf(p, df)
        assert confidence.chi_square_tail(critical, df) == pytest.approx(p, rel=0.2)


def test_two_samples_are_pearson_homogeneity_of_their_counts() -> None:
    rng = np.random.default_rng(5)
    reference = rng.beta(8, 2, 2000).clip(0.5, 1.0)
    live = rng.beta(5, 2, 3000).clip(0.5, 1.0)  # less sure
    found = confidence.shift_test(cumulative(reference), 2000, cumulative(live), 3000)
    assert found is not None
    ref_counts = np.diff([0, *[(reference <= b).sum() for b in BUCKETS]])  # (lower, b]
    live_counts = np.diff([0, *[(live <= b).sum() for b in BUCKETS]])
    table = np.array([ref_counts, live_counts])
    table = table[:, table.sum(axis=0) > 0]
    exact = stats.chi2_contingency(table, correction=False)
    assert found.statistic == pytest.approx(exact.statistic, rel=1e-6)
    assert found.df == exact.dof
    assert found.direction == "down" and found.live_mean < found.reference_mean
    assert found.shifted()


def test_the_same_distribution_is_not_a_shift_and_the_bound_grows_with_samples() -> None:
    rng = np.random.default_rng(6)
    reference = rng.beta(8, 2, 2000).clip(0.5, 1.0)
    same = rng.beta(8, 2, 2000).clip(0.5, 1.0)
    steady = confidence.shift_test(cumulative(reference), 2000, cumulative(same), 2000)
    assert steady is not None and not steady.shifted()
    # The same small move: not shown by 200 predictions, shown by 20,000.
    moved = rng.beta(7, 2, 20000).clip(0.5, 1.0)
    few = confidence.shift_test(cumulative(reference), 2000, cumulative(moved[:200]), 200)
    many = confidence.shift_test(cumulative(reference), 2000, cumulative(moved), 20000)
    assert few is not None and many is not None
    assert few.p_value > many.p_value and not few.shifted(min_psi=0.0)
    assert many.shifted(min_psi=0.0)


def test_a_surer_model_is_a_shift_up_and_no_rows_is_no_test() -> None:
    rng = np.random.default_rng(7)
    reference = rng.beta(5, 2, 2000).clip(0.5, 1.0)
    surer = np.full(1000, 0.999)
    found = confidence.shift_test(cumulative(reference), 0, cumulative(surer), 1000)
    assert found is not None and found.direction == "up" and found.shifted()
    assert found.reference_rows == 0  # exact reference: a goodness-of-fit test
    assert confidence.shift_test(cumulative(reference), 2000, {}, 0) is None
