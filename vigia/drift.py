"""Drift statistics between a reference distribution and observed bin counts.

The training profile gives each feature's reference share per bin (deciles for
numeric features, categories for categorical ones); the model server counts live
rows per bin. Both statistics below take those two and return one number.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

# A bin that is empty on one side would make PSI infinite; this floor keeps it
# finite and large, as is customary for PSI.
EPSILON = 1e-4


class DriftInputError(ValueError):
    """Reference shares or counts that cannot be compared."""


def observed_shares(counts: Mapping[str, float], bins: tuple[str, ...]) -> dict[str, float]:
    """Counts per bin as shares of their total over ``bins`` (other keys are ignored)."""
    total = sum(counts.get(b, 0.0) for b in bins)
    if total <= 0:
        raise DriftInputError("no observations in any bin")
    return {b: counts.get(b, 0.0) / total for b in bins}


def psi(reference: Mapping[str, float], counts: Mapping[str, float]) -> float:
    """Population stability index of ``counts`` against the ``reference`` shares."""
    bins = tuple(reference)
    actual = observed_shares(counts, bins)
    score = 0.0
    for b in bins:
        expected = max(reference[b], EPSILON)
        observed = max(actual[b], EPSILON)
        score += (observed - expected) * math.log(observed / expected)
    return score


def jensen_shannon(reference: Mapping[str, float], counts: Mapping[str, float]) -> float:
    """Jensen-Shannon distance (base 2, in [0, 1]) of ``counts`` against ``reference``."""
    bins = tuple(reference)
    actual = observed_shares(counts, bins)
    divergence = 0.0
    for b in bins:
        p, q = reference[b], actual[b]
        m = (p + q) / 2
        if p > 0:
            divergence += p * math.log2(p / m) / 2
        if q > 0:
            divergence += q * math.log2(q / m) / 2
    return math.sqrt(max(divergence, 0.0))
