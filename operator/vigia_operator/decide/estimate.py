"""Estimated accuracy without labels (pure): the EstimatedAccuracyLow condition and the
status.monitoring.estimatedAccuracy record, from the window's estimate and the bundle's
calibration error (vigia.calibration; docs/monitoring.md "Estimated accuracy").

The estimate is the mean calibrated top probability over the window: it moves when the
inputs move the model into regions where it is less sure, and cannot move when the rule
linking inputs to the truth changes (concept drift). Only feedback shows that.
"""

from __future__ import annotations

from dataclasses import dataclass

from vigia.calibration import ECE_MAX
from vigia_operator.core import reasons
from vigia_operator.core.types import Condition
from vigia_operator.decide.measurements import TrackSignals
from vigia_operator.view.monitoring import MonitoringSpec


@dataclass(frozen=True)
class EstimateStatus:
    """status.monitoring.estimatedAccuracy."""

    value: float | None = None
    predictions: int | None = None
    calibration_error: float | None = None
    max_calibration_error: float = ECE_MAX
    reason: str | None = None  # why there is no estimate


def no_estimate_reason(m: TrackSignals) -> str | None:
    """Why this version has no estimate; None when it has one."""
    if m.estimated_accuracy is not None:
        return None
    if m.calibration_error is None:
        return ("its bundle has no calibration check (bundled without a holdout, or by a "
                "Vigía before estimated accuracy)")
    if m.calibration_error > ECE_MAX:
        return (f"its calibration error on the holdout, {m.calibration_error:.3f}, is above "
                f"{ECE_MAX:g}: its probabilities do not say how often it is right")
    return "no estimate over the window yet (the servers export it once they predict)"


def estimate(spec: MonitoringSpec, m: TrackSignals, rows: int,
             of: str = "") -> tuple[EstimateStatus, Condition]:
    """The record and the condition for one version over the window (``rows`` predictions)."""
    why = no_estimate_reason(m)
    status = EstimateStatus(
        value=None if m.estimated_accuracy is None else round(m.estimated_accuracy, 4),
        predictions=rows,
        calibration_error=None if m.calibration_error is None else round(m.calibration_error, 4),
        reason=why)
    if why is not None or m.estimated_accuracy is None:
        return status, Condition(reasons.ESTIMATED_ACCURACY_LOW, "Unknown", reasons.NO_ESTIMATE,
                                 f"no estimated accuracy{of}: {why}")
    if rows < spec.drift_min_samples:
        return status, Condition(
            reasons.ESTIMATED_ACCURACY_LOW, "Unknown", reasons.INSUFFICIENT_DATA,
            f"{rows} predictions{of} over {spec.window}; the estimate needs"
            f" {spec.drift_min_samples}")
    detail = (f"estimated accuracy {m.estimated_accuracy:.3f} without labels from {rows}"
              f" predictions{of} over {spec.window} (minimum {spec.accuracy_min})")
    if m.estimated_accuracy < spec.accuracy_min:
        return status, Condition(reasons.ESTIMATED_ACCURACY_LOW, "True",
                                 reasons.ESTIMATE_BELOW_MIN, detail)
    return status, Condition(reasons.ESTIMATED_ACCURACY_LOW, "False", reasons.ESTIMATE_OK,
                             detail)
