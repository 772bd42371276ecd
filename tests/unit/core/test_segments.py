"""Segments: per-value training references in the profile, bounded, and a drift confined to
one segment that the whole population's statistic misses (constructed data)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from vigia import drift
from vigia.profile import TrainingProfile, build_profile
from vigia.segments import (
    MAX_SEGMENT_VALUES,
    SegmentError,
    SegmentProfile,
    check_segments,
    label,
    segment_psi,
)

ROWS = 20_000
THRESHOLD = 0.2  # the CRD's default PSI threshold


def line(rng: np.random.Generator, *, shift_in_b: float) -> pd.DataFrame:
    """Supplier B is a tenth of the rows; its oven runs ``shift_in_b`` sd hotter."""
    supplier = rng.choice(["A", "B"], size=ROWS, p=[0.9, 0.1])
    oven = rng.normal(0.0, 1.0, ROWS) + np.where(supplier == "B", shift_in_b, 0.0)
    return pd.DataFrame({"oven": oven, "speed": rng.normal(0.0, 1.0, ROWS),
                         "supplier": supplier,
                         "lot": rng.choice([f"l{i}" for i in range(25)], size=ROWS)})


def counts(profile: TrainingProfile, frame: pd.DataFrame, feature: str,
           rows: np.ndarray | None = None) -> dict[str, float]:
    values = frame[feature].to_numpy() if rows is None else frame[feature].to_numpy()[rows]
    index = profile.bin_indices(feature, values)
    labels = profile.bin_labels(feature)
    tally = np.bincount(index[index >= 0], minlength=len(labels))
    return {b: float(c) for b, c in zip(labels, tally.tolist(), strict=True)}


@pytest.fixture(scope="module")
def profile() -> TrainingProfile:
    train = line(np.random.default_rng(0), shift_in_b=0.0)
    return build_profile(train, np.zeros(ROWS), np.full((ROWS, 2), 0.5))


def test_the_profile_holds_references_only_for_bounded_categorical_features(
    profile: TrainingProfile,
) -> None:
    assert set(profile.segments) == {"supplier"}  # "lot" has 25 values
    supplier = profile.segments["supplier"]
    assert supplier.values == ("A", "B") and sum(supplier.rows.values()) == ROWS
    assert sum(supplier.shares["B"]["oven"].values()) == pytest.approx(1.0)
    again = TrainingProfile.from_dict(profile.to_dict())
    assert again.segments["supplier"] == supplier
    assert SegmentProfile.from_dict(supplier.to_dict()) == supplier


def test_a_segment_must_be_categorical_and_bounded(profile: TrainingProfile) -> None:
    categorical = {n: p.categories for n, p in profile.categorical.items()}
    check_segments(["supplier"], profile.segments, categorical)
    with pytest.raises(SegmentError, match="'oven' is not a categorical feature"):
        check_segments(["oven"], profile.segments, categorical)
    with pytest.raises(SegmentError, match=f"'lot' has 25 training values; at most "
                                           f"{MAX_SEGMENT_VALUES}"):
        check_segments(["lot"], profile.segments, categorical)


def test_a_drift_confined_to_one_segment_is_missed_overall_and_caught_in_the_segment(
    profile: TrainingProfile,
) -> None:
    live = line(np.random.default_rng(1), shift_in_b=1.2)
    overall = drift.psi(profile.reference_shares("oven"), counts(profile, live, "oven"))
    assert overall < THRESHOLD  # diluted tenfold: the population statistic misses it
    by_value = {v: {f: counts(profile, live, f, live["supplier"].to_numpy() == v)
                    for f in ("oven", "speed")} for v in ("A", "B")}
    scores = segment_psi(profile.segments["supplier"], by_value)
    assert scores[("B", "oven")] > THRESHOLD  # caught where it happened
    assert scores[("A", "oven")] < 0.05 and scores[("B", "speed")] < 0.05
    assert label("supplier", "B") == "supplier=B"
    print(f"oven PSI overall {overall:.3f}, supplier=B {scores[('B', 'oven')]:.3f}")


def test_stationary_segments_stay_below_the_threshold(profile: TrainingProfile) -> None:
    live = line(np.random.default_rng(2), shift_in_b=0.0)
    by_value = {v: {"oven": counts(profile, live, "oven", live["supplier"].to_numpy() == v)}
                for v in ("A", "B")}
    assert max(segment_psi(profile.segments["supplier"], by_value).values()) < 0.05
