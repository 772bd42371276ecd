"""The calibration check at bundle time and the accuracy it estimates without labels."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vigia import sample
from vigia.bundle import BundleMetadata, ModelBundle
from vigia.calibration import ECE_MAX, MIN_HOLDOUT_ROWS
from vigia.calibration.check import (
    Calibration,
    check_calibration,
    correct,
    estimated_accuracy,
    expected_calibration_error,
    reliability,
)

CLASSES = ("no", "yes")


def _binary(top: np.ndarray, rng: np.random.Generator,
            truth: np.ndarray | None = None) -> tuple[np.ndarray, list[str]]:
    """Probabilities whose top class is "yes" with probability ``top``; the true class is
    drawn so that the prediction is right with probability ``truth`` (default ``top``)."""
    proba = np.column_stack([1 - top, top])
    right = rng.random(len(top)) < (top if truth is None else truth)
    return proba, ["yes" if r else "no" for r in right]


def test_reliability_diagram_and_ece_by_hand() -> None:
    top = np.array([0.55, 0.65, 0.95, 0.95])
    right = np.array([1.0, 0.0, 1.0, 1.0])
    bins = reliability(top, right)
    assert [b.rows for b in bins] == [0, 0, 0, 0, 0, 1, 1, 0, 0, 2]
    assert bins[9].confidence == pytest.approx(0.95) and bins[9].accuracy == 1.0
    assert bins[0].confidence is None
    # |1 - 0.55| / 4 + |0 - 0.65| / 4 + 2 * |1 - 0.95| / 4
    assert expected_calibration_error(top, right) == pytest.approx((0.45 + 0.65 + 0.1) / 4)


def test_a_calibrated_model_gets_an_estimate_close_to_its_accuracy() -> None:
    rng = np.random.default_rng(0)
    proba, truth = _binary(rng.uniform(0.5, 1.0, 4000), rng)
    check = check_calibration(proba, CLASSES, truth)
    assert check.estimable and check.reason is None
    assert check.ece <= ECE_MAX and check.rows == 4000
    live, live_truth = _binary(rng.uniform(0.5, 0.8, 3000), rng)
    realized = correct(live, CLASSES, live_truth).mean()
    assert estimated_accuracy(check, live) == pytest.approx(realized, abs=0.02)


def test_an_under_confident_model_is_corrected_by_the_map() -> None:
    """Right 20 points more often than its probability says: the raw ECE is large, the
    mapped one is small, and the estimate follows the truth, not the raw probability."""
    rng = np.random.default_rng(1)
    top = rng.uniform(0.5, 0.75, 3000)
    proba, truth = _binary(top, rng, truth=top + 0.2)
    check = check_calibration(proba, CLASSES, truth)
    assert check.ece_raw > 0.15 and check.estimable
    realized = correct(proba, CLASSES, truth).mean()
    assert estimated_accuracy(check, proba) == pytest.approx(realized, abs=0.02)
    assert proba.max(axis=1).mean() < realized - 0.15


def test_probabilities_that_say_nothing_get_no_estimate() -> None:
    """Right or wrong in alternating narrow bands of probability: no monotone map follows
    that, so the mapped error stays far above the maximum and there is no estimate."""
    rng = np.random.default_rng(2)
    top = rng.uniform(0.5, 1.0, 400)
    truth = np.where((top * 40).astype(int) % 2 == 0, 0.98, 0.02)
    proba, labels = _binary(top, rng, truth=truth)
    check = check_calibration(proba, CLASSES, labels)
    assert not check.estimable
    assert check.reason is not None and "above 0.05" in check.reason
    assert estimated_accuracy(check, proba) is None


def test_a_small_holdout_gets_no_estimate() -> None:
    rng = np.random.default_rng(3)
    proba, truth = _binary(rng.uniform(0.5, 1.0, MIN_HOLDOUT_ROWS - 1), rng)
    check = check_calibration(proba, CLASSES, truth)
    assert not check.estimable and "needs 200" in (check.reason or "")


def test_the_check_round_trips_through_the_bundle_metadata(sample_bundle: ModelBundle) -> None:
    check = sample_bundle.metadata.calibration
    assert check is not None and len(check.bins) == 10
    assert sum(b.rows for b in check.bins) == check.rows == 300  # a fifth of 1,500 rows
    again = BundleMetadata.from_dict(json.loads(json.dumps(sample_bundle.metadata.to_dict())))
    assert again.calibration == check
    assert Calibration.from_dict(check.to_dict()) == check


def test_metadata_without_a_check_reads_as_none(sample_bundle: ModelBundle) -> None:
    data = sample_bundle.metadata.to_dict()
    del data["calibration"]
    assert BundleMetadata.from_dict(data).calibration is None


@pytest.fixture(scope="module")
def sample_model() -> ModelBundle:
    return sample.train_sample_model(rows=5000, seed=0)


@pytest.mark.parametrize("drift", [0.0, 0.5, 1.0])
def test_the_estimate_follows_covariate_drift_on_the_sample(
    sample_model: ModelBundle, drift: float
) -> None:
    check = sample_model.metadata.calibration
    assert check is not None and check.estimable
    X, y = sample.production_line(5000, seed=40, drift=drift)
    proba = sample_model.predict_proba(X)
    realized = correct(proba, sample_model.metadata.classes, y).mean()
    assert estimated_accuracy(check, proba) == pytest.approx(realized, abs=0.02)


def test_the_estimate_cannot_see_concept_drift(sample_model: ModelBundle) -> None:
    """The rule changes, the inputs do not: the same rows, more of them defective. The
    realized accuracy falls by several points, the estimate does not move at all."""
    check = sample_model.metadata.calibration
    assert check is not None
    X, y_before = sample.production_line(5000, seed=41)
    X_after, y_after = sample.production_line(5000, seed=41, concept=0.8)
    assert X_after.equals(X)
    proba = sample_model.predict_proba(X)
    classes = sample_model.metadata.classes
    before = correct(proba, classes, y_before).mean()
    after = correct(proba, classes, y_after).mean()
    estimate = estimated_accuracy(check, proba)
    assert estimate is not None
    assert before - after > 0.05
    assert estimate == pytest.approx(before, abs=0.02)
    assert estimate - after > 0.04  # the estimate still says "as before"
