from __future__ import annotations

from typing import Any

from vigia_retrain.fairness import FeatureFairness
from vigia_retrain.gate import Thresholds, decide

from vigia.retraining import Reason

LIMITS = Thresholds(
    min_improvement=0.01, max_holdout_loss=0.02, max_parity_difference=0.1, min_group_size=30
)


def comparison(current: float, candidate: float, rows: int = 500) -> dict[str, Any]:
    return {
        "rows": rows,
        "current": {"accuracy": current},
        "candidate": {"accuracy": candidate},
        "improvement": candidate - current,
    }


def fair(feature: str = "shift", parity: float = 0.03, odds: float = 0.05) -> FeatureFairness:
    return FeatureFairness(feature, True, parity, odds, "good")


def codes(findings: list[Any]) -> list[str]:
    return [f.code for f in findings]


def test_better_on_drift_and_fair_is_accepted() -> None:
    assert decide(comparison(0.89, 0.885), comparison(0.85, 0.88), [fair()], LIMITS) == []


def test_gain_on_recent_feedback_below_minimum_is_refused_with_the_numbers() -> None:
    findings = decide(comparison(0.89, 0.90), comparison(0.85, 0.855), [fair()], LIMITS)
    assert codes(findings) == [Reason.NOT_ENOUGH_IMPROVEMENT]
    assert "recent feedback" in findings[0].message
    assert "85.00% -> 85.50%" in findings[0].message
    assert "+0.0050" in findings[0].message


def test_without_feedback_the_holdout_decides() -> None:
    assert decide(comparison(0.80, 0.82), None, [], LIMITS) == []
    findings = decide(comparison(0.80, 0.805), None, [], LIMITS)
    assert codes(findings) == [Reason.NOT_ENOUGH_IMPROVEMENT]
    assert "the holdout" in findings[0].message


def test_forgetting_the_original_data_is_refused() -> None:
    findings = decide(comparison(0.89, 0.86), comparison(0.80, 0.90), [], LIMITS)
    assert codes(findings) == [Reason.HOLDOUT_REGRESSION]


def test_negative_minimum_allows_a_small_loss() -> None:
    limits = Thresholds(-0.02, 0.02, 0.1, 30)
    assert decide(comparison(0.89, 0.88), comparison(0.85, 0.84), [], limits) == []


def test_each_unfair_gap_is_a_reason() -> None:
    findings = decide(
        comparison(0.8, 0.9), comparison(0.8, 0.9), [fair(parity=0.4, odds=0.3)], LIMITS
    )
    assert codes(findings) == [Reason.UNFAIR, Reason.UNFAIR]
    assert "demographic parity difference 0.4000" in findings[0].message
    assert "equalized odds difference 0.3000" in findings[1].message


def test_fairness_that_cannot_be_measured_refuses() -> None:
    unmeasured = FeatureFairness("region", False, skipped={"north": 12, "south": 9})
    findings = decide(comparison(0.8, 0.9), comparison(0.8, 0.9), [unmeasured], LIMITS)
    assert codes(findings) == [Reason.FAIRNESS_NOT_EVALUABLE]
    assert "north" in findings[0].message and "30" in findings[0].message


def costed(current: float, candidate: float, cost_now: float, cost_new: float,
           rows: int = 500) -> dict[str, Any]:
    return {**comparison(current, candidate, rows),
            "current": {"accuracy": current, "cost": cost_now},
            "candidate": {"accuracy": candidate, "cost": cost_new},
            "costIncrease": cost_new - cost_now, "costUnit": "EUR per 1,000 cakes"}


def test_more_accurate_but_costlier_is_refused_in_the_business_unit() -> None:
    limits = Thresholds(min_improvement=0.0, max_holdout_loss=0.02, max_parity_difference=0.1,
                        min_group_size=30, max_cost_increase=0.0)
    findings = decide(comparison(0.89, 0.89), costed(0.95, 0.97, 230.0, 300.0), [], limits)
    assert codes(findings) == [Reason.COST_INCREASE]
    assert findings[0].message == (
        "expected cost on recent feedback (500 rows) 230 -> 300 EUR per 1,000 cakes: "
        "increase 70 exceeds maxCostIncrease 0")
    assert decide(comparison(0.89, 0.89), costed(0.95, 0.96, 230.0, 130.0), [], limits) == []
    # Without a limit the cost is reported, not judged.
    assert decide(comparison(0.89, 0.89), costed(0.95, 0.97, 230.0, 300.0), [], LIMITS) == []
    assert "maxCostIncrease" in limits.to_dict() and "maxCostIncrease" not in LIMITS.to_dict()
