"""The accuracy drop's confidence sequence: its guarantees, checked by simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from vigia_operator.decide.rollout.sequential import (
    ALPHA,
    DropInterval,
    Labels,
    drop_interval,
    half_width,
    judge_drop,
)

LOOK = 20  # canary labels between two analyses
STABLE_PER_CANARY = 4  # a canary at 20% of the traffic


def _looks(canary_p: float, stable_p: float, looks: int, seed: int) -> list[DropInterval]:
    """The intervals of one simulated rollout, one per analysis, from the first with 50
    labels on."""
    rng = np.random.default_rng(seed)
    canary = np.cumsum(rng.random(LOOK * looks) < canary_p)
    stable = np.cumsum(rng.random(LOOK * STABLE_PER_CANARY * looks) < stable_p)
    out = []
    for k in range(3, looks + 1):
        n = k * LOOK
        out.append(drop_interval(Labels(float(canary[n - 1]), n),
                                 Labels(float(stable[STABLE_PER_CANARY * n - 1]),
                                        STABLE_PER_CANARY * n)))
    return out


def test_the_interval_is_centred_on_the_observed_drop_and_names_its_labels() -> None:
    interval = drop_interval(Labels(80, 100), Labels(450, 500))
    assert interval.estimate == pytest.approx(0.10)
    assert interval.low < 0.10 < interval.high
    assert interval.high - 0.10 == pytest.approx(0.10 - interval.low)
    assert (interval.canary, interval.stable) == (100, 500)


def test_the_interval_narrows_as_labels_accumulate_but_slower_than_a_fixed_one() -> None:
    widths = [drop_interval(Labels(0.9 * n, n), Labels(0.9 * n, n)).high for n in
              (100, 400, 1600, 6400)]
    assert widths == sorted(widths, reverse=True)
    # Valid at every look costs width over a one-look 95% interval (1.96 sd), but not
    # much: about 1.5 times at these sizes.
    sd = math.sqrt(2 * 0.09 / 1600)
    assert 1.96 * sd < widths[2] < 1.6 * 1.96 * sd


def test_a_track_with_every_label_correct_is_not_taken_for_certain() -> None:
    interval = drop_interval(Labels(50, 50), Labels(50, 50))
    assert interval.estimate == 0.0 and interval.high > 0.05


def test_bad_counts_are_refused() -> None:
    with pytest.raises(ValueError, match="both tracks"):
        drop_interval(Labels(0, 0), Labels(5, 10))
    with pytest.raises(ValueError, match="alpha"):
        drop_interval(Labels(5, 10), Labels(5, 10), alpha=1.5)
    assert half_width(1e-4, alpha=0.01) > half_width(1e-4, alpha=0.1)


@pytest.mark.parametrize(("low", "high", "verdict"), [
    (0.03, 0.15, "Fail"),  # surely worse than the margin
    (-0.04, 0.019, "Pass"),  # surely within it
    (-0.01, 0.08, "Undecided"),
    (0.02, 0.08, "Undecided"),  # low at the margin is not beyond it
])
def test_the_verdict_reads_the_interval_against_the_margin(low, high, verdict) -> None:
    interval = DropInterval((low + high) / 2, low, high, 100, 400)
    assert judge_drop(interval, margin=0.02) == verdict


@pytest.mark.parametrize(("canary_p", "stable_p"), [(0.9, 0.9), (0.8, 0.9), (0.97, 0.97)])
def test_each_side_misses_the_true_drop_at_any_look_at_most_alpha_of_the_time(
        canary_p, stable_p) -> None:
    """Over 300 rollouts of 60 looks (up to 1200 canary labels), fixed seeds: the share
    whose interval ever lies wholly above (or wholly below) the true drop stays within
    alpha, although each rollout is looked at 58 times."""
    truth = stable_p - canary_p
    above = below = 0
    for seed in range(300):
        looks = _looks(canary_p, stable_p, 60, seed)
        above += any(i.low > truth for i in looks)
        below += any(i.high < truth for i in looks)
    assert above / 300 <= ALPHA and below / 300 <= ALPHA


def test_a_fixed_threshold_looked_at_every_time_would_miss_far_more_often() -> None:
    """The reason for the sequence: a 95% one-look interval, looked at 58 times, leaves
    the truth in far more than 5% of the A/A rollouts."""
    misses = 0
    for seed in range(300):
        looks = _looks(0.9, 0.9, 60, seed)
        misses += any(abs(i.estimate) > 1.96 * math.sqrt(
            0.09 / i.canary + 0.09 / i.stable) for i in looks)
    assert misses / 300 > 2 * ALPHA
