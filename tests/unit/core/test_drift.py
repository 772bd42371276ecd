"""PSI and Jensen-Shannon against known values and on the sample's real drift."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vigia.drift import DriftInputError, jensen_shannon, psi
from vigia.profile import build_numeric_profile
from vigia.sample import production_line

UNIFORM = {str(i): 0.1 for i in range(10)}


def test_identical_distributions_score_zero() -> None:
    counts = {b: 50.0 for b in UNIFORM}
    assert psi(UNIFORM, counts) == pytest.approx(0.0)
    assert jensen_shannon(UNIFORM, counts) == pytest.approx(0.0)


def test_psi_matches_the_textbook_formula() -> None:
    reference = {"a": 0.5, "b": 0.5}
    counts = {"a": 80.0, "b": 20.0}
    expected = (0.8 - 0.5) * math.log(0.8 / 0.5) + (0.2 - 0.5) * math.log(0.2 / 0.5)
    assert psi(reference, counts) == pytest.approx(expected)


def test_jensen_shannon_of_disjoint_distributions_is_one() -> None:
    assert jensen_shannon({"a": 1.0, "b": 0.0}, {"b": 7.0}) == pytest.approx(1.0)


def test_an_empty_bin_keeps_psi_finite() -> None:
    counts = {"0": 100.0}
    assert math.isfinite(psi(UNIFORM, counts))
    assert psi(UNIFORM, counts) > 1.0


def test_counts_outside_the_reference_bins_are_ignored() -> None:
    counts = {b: 10.0 for b in UNIFORM} | {"-1": 1000.0}
    assert psi(UNIFORM, counts) == pytest.approx(0.0)


def test_no_observations_is_an_error() -> None:
    with pytest.raises(DriftInputError, match="no observations"):
        psi(UNIFORM, {})


def _decile_counts(feature: str, drift: float) -> tuple[dict[str, float], dict[str, float]]:
    train, _ = production_line(4000, seed=0)
    live, _ = production_line(4000, seed=1, drift=drift)
    profile = build_numeric_profile(train[feature])
    bins = profile.bin_indices(live[feature].to_numpy(dtype=float))
    counts = np.bincount(bins[bins >= 0], minlength=10)
    reference = {str(i): share for i, share in enumerate(profile.shares)}
    return reference, {str(i): float(c) for i, c in enumerate(counts)}


def test_sample_traffic_without_drift_stays_under_the_usual_threshold() -> None:
    reference, counts = _decile_counts("dough_humidity", drift=0.0)
    assert psi(reference, counts) < 0.1


def test_drifted_sample_traffic_crosses_the_usual_threshold() -> None:
    reference, counts = _decile_counts("dough_humidity", drift=1.0)
    assert psi(reference, counts) > 0.2
