"""Has a model's confidence moved from its own reference? A test on binned counts.

The reference is the model's confidence (highest class probability) on its holdout, binned
at bundle time with the server's histogram buckets (vigia.profile.ConfidenceProfile); the
live side is the same histogram over a window. Both are cumulative shares at or below each
bucket bound. The test is Pearson's chi-square of homogeneity between the two samples' bin
counts (two samples: the reference's rows count too; a reference without its row count is
taken as exact, a goodness-of-fit test), so how much counts as a shift depends on how many
predictions and holdout rows there are. A shift also needs a size worth reporting: the PSI
of the two bin mixes at least ``min_psi``, so that a million predictions do not flag a
change nobody would act on. Direction: the binned mean (bin midpoints) up or down.

Pure: numbers in, numbers out; the chi-square tail is the Wilson-Hilferty approximation
(no SciPy in the operator): from 2 degrees of freedom, within 20% of the exact tail down
to 0.001 (tests/unit/core/test_confidence.py).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from statistics import NormalDist
from typing import Final, Literal

from vigia.drift import psi

DEFAULT_ALPHA: Final = 0.001
DEFAULT_MIN_PSI: Final = 0.02
Direction = Literal["up", "down"]


@dataclass(frozen=True)
class ShiftTest:
    statistic: float  # chi-square
    df: int
    p_value: float
    psi: float
    direction: Direction
    live_mean: float  # binned means (bin midpoints), comparable with each other
    reference_mean: float
    live_rows: int
    reference_rows: int  # 0: the reference taken as exact

    def shifted(self, alpha: float = DEFAULT_ALPHA, min_psi: float = DEFAULT_MIN_PSI) -> bool:
        return self.p_value < alpha and self.psi >= min_psi


def bin_shares(cumulative: Mapping[float, float]) -> dict[float, float]:
    """Each bucket's own share (upper bound -> share) from cumulative shares at or below
    each bound; the share above the last bound under ``math.inf``."""
    shares: dict[float, float] = {}
    below = 0.0
    for le in sorted(cumulative):
        shares[le] = max(0.0, cumulative[le] - below)
        below = max(below, cumulative[le])
    shares[math.inf] = max(0.0, 1.0 - below)
    return shares


def shift_test(reference: Mapping[float, float], reference_rows: int,
               live: Mapping[float, float], live_rows: int) -> ShiftTest | None:
    """The test of ``live`` (cumulative shares by bucket bound, from ``live_rows``
    predictions) against ``reference``; None without rows or common buckets."""
    bounds = sorted(set(reference) & set(live))
    if live_rows <= 0 or not bounds:
        return None
    ref = bin_shares({b: reference[b] for b in bounds})
    now = bin_shares({b: live[b] for b in bounds})
    observed = {b: now[b] * live_rows for b in ref}
    if reference_rows > 0:
        statistic, df = _homogeneity({b: ref[b] * reference_rows for b in ref}, observed)
    else:
        statistic, df = _goodness_of_fit(ref, observed, live_rows)
    return ShiftTest(
        statistic=statistic, df=df, p_value=chi_square_tail(statistic, df),
        psi=psi({repr(b): v for b, v in ref.items()}, {repr(b): v for b, v in observed.items()}),
        direction="up" if _mean(now) > _mean(ref) else "down",
        live_mean=_mean(now), reference_mean=_mean(ref), live_rows=live_rows,
        reference_rows=reference_rows,
    )


def chi_square_tail(statistic: float, df: int) -> float:
    """P(X >= statistic) for X chi-square with ``df`` degrees of freedom (Wilson-Hilferty)."""
    if df <= 0:
        return 1.0
    if statistic <= 0:
        return 1.0
    spread = 2.0 / (9.0 * df)
    z = ((statistic / df) ** (1.0 / 3.0) - (1.0 - spread)) / math.sqrt(spread)
    return 1.0 - NormalDist().cdf(z)


def _homogeneity(first: Mapping[float, float], second: Mapping[float, float]
                 ) -> tuple[float, int]:
    n1, n2 = sum(first.values()), sum(second.values())
    total = n1 + n2
    statistic, used = 0.0, 0
    for b in first:
        column = first[b] + second[b]
        if column <= 0:
            continue
        used += 1
        for n, count in ((n1, first[b]), (n2, second[b])):
            expected = n * column / total
            statistic += (count - expected) ** 2 / expected
    return statistic, used - 1


def _goodness_of_fit(shares: Mapping[float, float], observed: Mapping[float, float],
                     rows: int) -> tuple[float, int]:
    floor = 0.5 / rows  # a reference share of 0 would make any live row infinite
    statistic, used = 0.0, 0
    for b, share in shares.items():
        if share <= 0 and observed[b] <= 0:
            continue
        used += 1
        expected = max(share, floor) * rows
        statistic += (observed[b] - expected) ** 2 / expected
    return statistic, used - 1


def _mean(shares: Mapping[float, float]) -> float:
    """The binned mean: each bucket at its midpoint (the last finite bound for the top)."""
    bounds = sorted(b for b in shares if not math.isinf(b))
    total, lower = 0.0, 0.0
    for b in bounds:
        total += shares[b] * (lower + b) / 2
        lower = b
    total += shares.get(math.inf, 0.0) * lower
    return total
