"""The validation gate: a pure decision from the measured numbers and the thresholds.

A candidate is accepted when every check passes:
- on recent labelled feedback (the data that drifted) its accuracy gain over the current
  model is at least ``min_improvement`` (without usable feedback, on the original holdout);
- on the original holdout it loses at most ``max_holdout_loss`` accuracy (adapting to
  drift must not forget the original data);
- with error costs (spec.monitoring.costs) and ``max_cost_increase``, the candidate's
  expected cost per 1,000 predictions exceeds the current model's by at most that much, on
  the same rows as the accuracy gain;
- for every sensitive feature, both its demographic parity difference and its equalized
  odds difference are at most ``max_parity_difference``; a feature whose groups are too
  small to measure refuses too: a check that cannot be made is never a silent pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from vigia.costs import figure
from vigia.retraining import Reason
from vigia_retrain.fairness import FeatureFairness
from vigia_retrain.regression import is_error_comparison


@dataclass(frozen=True)
class Thresholds:
    min_improvement: float
    max_holdout_loss: float
    max_parity_difference: float
    min_group_size: int
    max_cost_increase: float | None = None  # None: the cost is not judged

    def to_dict(self) -> dict[str, float]:
        found = {
            "minImprovement": self.min_improvement,
            "maxHoldoutLoss": self.max_holdout_loss,
            "maxParityDifference": self.max_parity_difference,
            "minGroupSize": self.min_group_size,
        }
        if self.max_cost_increase is not None:
            found["maxCostIncrease"] = self.max_cost_increase
        return found


@dataclass(frozen=True)
class Finding:
    code: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


def decide(
    holdout: dict[str, Any],
    recent: dict[str, Any] | None,
    fairness: Sequence[FeatureFairness],
    limits: Thresholds,
) -> list[Finding]:
    """What stops the candidate; empty means accepted."""
    return [
        *_improvement(holdout, recent, limits),
        *_holdout_loss(holdout, limits),
        *_cost(holdout, recent, limits),
        *(f for feature in fairness for f in _fairness(feature, limits)),
    ]


def _improvement(
    holdout: dict[str, Any], recent: dict[str, Any] | None, limits: Thresholds
) -> list[Finding]:
    judged, where = (recent, "recent feedback") if recent else (holdout, "the holdout")
    gain = judged["improvement"]
    if gain >= limits.min_improvement:
        return []
    if is_error_comparison(judged):
        return [Finding(
            Reason.NOT_ENOUGH_IMPROVEMENT,
            f"MAE on {where} ({judged['rows']} rows) {_units(judged['current']['mae'])} "
            f"-> {_units(judged['candidate']['mae'])}: reduction {gain:+.2%} is below "
            f"minImprovement {limits.min_improvement:+.2%}",
        )]
    return [Finding(
        Reason.NOT_ENOUGH_IMPROVEMENT,
        f"accuracy on {where} ({judged['rows']} rows) {_pct(judged['current']['accuracy'])} "
        f"-> {_pct(judged['candidate']['accuracy'])}: gain {gain:+.4f} is below "
        f"minImprovement {limits.min_improvement:+.4f}",
    )]


def _cost(
    holdout: dict[str, Any], recent: dict[str, Any] | None, limits: Thresholds
) -> list[Finding]:
    """The candidate may cost at most ``max_cost_increase`` more per 1,000 predictions than
    the current model, judged on the rows the accuracy gain is judged on."""
    judged, where = (recent, "recent feedback") if recent else (holdout, "the holdout")
    if limits.max_cost_increase is None or "costIncrease" not in judged:
        return []
    increase = judged["costIncrease"]
    if increase <= limits.max_cost_increase:
        return []
    unit = judged.get("costUnit", "")
    return [Finding(
        Reason.COST_INCREASE,
        f"expected cost on {where} ({judged['rows']} rows) "
        f"{figure(judged['current']['cost'])} -> {figure(judged['candidate']['cost'])} {unit}: "
        f"increase {figure(increase)} exceeds maxCostIncrease {limits.max_cost_increase:g}",
    )]


def _holdout_loss(holdout: dict[str, Any], limits: Thresholds) -> list[Finding]:
    loss = -holdout["improvement"]
    if loss <= limits.max_holdout_loss:
        return []
    if is_error_comparison(holdout):
        return [Finding(
            Reason.HOLDOUT_REGRESSION,
            f"MAE on the original holdout ({holdout['rows']} rows) "
            f"{_units(holdout['current']['mae'])} -> {_units(holdout['candidate']['mae'])}: "
            f"{loss:.2%} more error exceeds maxHoldoutLoss {limits.max_holdout_loss:.2%}",
        )]
    return [Finding(
        Reason.HOLDOUT_REGRESSION,
        f"accuracy on the original holdout ({holdout['rows']} rows) "
        f"{_pct(holdout['current']['accuracy'])} -> {_pct(holdout['candidate']['accuracy'])}: "
        f"loss {loss:.4f} exceeds maxHoldoutLoss {limits.max_holdout_loss:.4f}",
    )]


def _fairness(feature: FeatureFairness, limits: Thresholds) -> list[Finding]:
    if not feature.evaluable:
        return [Finding(
            Reason.FAIRNESS_NOT_EVALUABLE,
            f"{feature.feature}: fewer than two groups with at least {limits.min_group_size} "
            f"evaluation rows (groups: {feature.skipped})",
        )]
    gaps = {
        "demographic parity difference": feature.demographic_parity_difference or 0.0,
        "equalized odds difference": feature.equalized_odds_difference or 0.0,
    }
    return [
        Finding(
            Reason.UNFAIR,
            f"{feature.feature}: {name} {value:.4f} (class {feature.worst_class!r}) exceeds "
            f"maxParityDifference {limits.max_parity_difference:.4f}",
        )
        for name, value in gaps.items()
        if value > limits.max_parity_difference
    ]


def _units(value: float) -> str:
    """An error in the model's own units (the unit itself is the spec's, not the Job's)."""
    return f"{value:.4g}"


def _pct(value: float) -> str:
    return f"{100 * value:.2f}%"
