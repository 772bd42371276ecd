"""An always-valid confidence sequence for the accuracy drop of a canary, and its verdict.

The drop is stable accuracy - canary accuracy, from the feedback labels of each track
counted since the canary started. The interval is the normal-mixture boundary (Robbins;
the mixture SPRT of Johari et al. for a difference of two means, the asymptotic confidence
sequence of Waudby-Smith et al.), one-sided at each end: the lower end rises above the true
drop at some look of the rollout with probability at most alpha, however many looks and
whenever they come, and the upper end falls below it likewise (the pair is a 1 - 2 alpha
sequence). The variance is estimated from the labels (asymptotically valid; checked by
simulation in tests/unit/operator/decide/rollout/test_sequential.py). A rollback (the
lower end above the margin) and a promotion (the upper end within it) are each wrong with
probability at most alpha, and the canary can be judged at each analysis as its labels
accumulate, without the false rollbacks that a fixed threshold on a noisy difference gives
when looked at again and again.

Pure: counts in, interval and verdict out; the statistics need only ``math``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final, Literal

# Chance that the interval misses the true drop at any look of a rollout.
ALPHA: Final = 0.05
# Standard deviation of the mixture over drops: the boundary is tightest when the interval
# is about this wide, i.e. for drops of a few points, the size an accuracyDrop margin is.
MIXTURE_SD: Final = 0.05

DropVerdict = Literal["Fail", "Pass", "Undecided"]
FAIL: Final = "Fail"
PASS: Final = "Pass"
UNDECIDED: Final = "Undecided"


@dataclass(frozen=True)
class Labels:
    """One track's feedback labels: how many, how many were correct (increases may be
    fractional: Prometheus extrapolates them)."""

    correct: float = 0.0
    total: float = 0.0

    def plus(self, other: Labels, share: float = 1.0) -> Labels:
        return Labels(self.correct + share * other.correct, self.total + share * other.total)

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total > 0 else 0.0


@dataclass(frozen=True)
class DropInterval:
    """The estimated drop and its confidence sequence at this look."""

    estimate: float
    low: float
    high: float
    canary: float  # labels behind it
    stable: float


def drop_interval(canary: Labels, stable: Labels, alpha: float = ALPHA,
                  mixture_sd: float = MIXTURE_SD) -> DropInterval:
    """The confidence sequence of stable - canary accuracy, each end at level alpha; both
    tracks need labels."""
    if canary.total <= 0 or stable.total <= 0:
        raise ValueError("both tracks need feedback labels")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, not {alpha}")
    estimate = stable.accuracy - canary.accuracy
    variance = _variance(canary) + _variance(stable)
    half = half_width(variance, alpha, mixture_sd)
    return DropInterval(estimate, estimate - half, estimate + half, canary.total, stable.total)


def half_width(variance: float, alpha: float = ALPHA, mixture_sd: float = MIXTURE_SD) -> float:
    """Half-width of the one-sided normal-mixture boundary (Howard et al. 2021, eq. 14)
    for an estimate of this variance V: sqrt(2 V (V + t²) / t² · log(sqrt((V + t²) / V)
    / (2 alpha) + 1)), t the mixture's standard deviation. Each side is crossed with
    probability at most alpha, at any look."""
    tau2 = mixture_sd * mixture_sd
    growth = math.sqrt((variance + tau2) / variance)
    return math.sqrt(2.0 * variance * (variance + tau2) / tau2
                     * math.log(growth / (2.0 * alpha) + 1.0))


def _variance(track: Labels) -> float:
    """Variance of a track's accuracy, with two pseudo-labels of each kind (Agresti and
    Coull's "plus four") so that a track with every label correct is not taken for
    certain, and a small one not for nearly so."""
    p = (track.correct + 2.0) / (track.total + 4.0)
    return p * (1.0 - p) / track.total


def judge_drop(interval: DropInterval, margin: float) -> DropVerdict:
    """Fail when the canary is surely worse than stable by more than ``margin``; Pass when
    it is surely not (non-inferior within the margin); else Undecided: more labels needed."""
    if interval.low > margin:
        return FAIL
    if interval.high <= margin:
        return PASS
    return UNDECIDED
