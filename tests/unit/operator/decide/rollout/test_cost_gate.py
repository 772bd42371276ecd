"""The costIncrease gate with real numbers, through the rollout machine: a canary more
accurate than the stable but whose errors are the expensive kind is rolled back; a cheaper
one is promoted. Every verdict carries the cost difference in the business's unit."""

from __future__ import annotations

from dataclasses import replace

import pytest
from vigia_operator.core import reasons
from vigia_operator.decide.rollout.gates import Measurements, TrackMeasurements, analyse
from vigia_operator.decide.rollout.model import RolloutDecision

from tests.unit.operator.decide.rollout.helpers import (
    T0,
    V1,
    V2,
    at,
    decide_with,
    inputs,
    observed,
    rollout_spec,
    started,
)
from vigia.costs import CostTable, ErrorCost

# A defective sobao passed as good costs 10; a good one thrown away costs 1.
COSTS = CostTable((ErrorCost(predicted="good", actual="defective", cost=10.0),
                   ErrorCost(predicted="defective", actual="good", cost=1.0)),
                  "EUR per 1,000 cakes")
Cells = dict[tuple[str, str], float]


def track(cells: Cells) -> TrackMeasurements:
    """10,000 requests, all labelled: the confusion cells, and the accuracy they imply."""
    total = sum(cells.values())
    correct = sum(n for (a, p), n in cells.items() if a == p)
    predicted: dict[str, float] = {}
    for (_, p), n in cells.items():
        predicted[p] = predicted.get(p, 0.0) + n
    return TrackMeasurements(requests=total, errors=0, latency_p95_s=0.02,
                             feedback_correct=correct, feedback_total=total,
                             predictions=predicted, input_drift=0.05, confusion=cells)


# Stable: 95.0% accurate; 200 defective passed, 300 good discarded: 230 EUR per 1,000.
STABLE = track({("good", "good"): 9000, ("defective", "defective"): 500,
                ("defective", "good"): 200, ("good", "defective"): 300})
# More accurate (97.0%) but every error is a defective one passed: 300 EUR per 1,000.
COSTLIER = track({("good", "good"): 9300, ("defective", "defective"): 400,
                  ("defective", "good"): 300, ("good", "defective"): 0})
# 96.0% accurate, and cheaper: 100 passed, 300 discarded: 130 EUR per 1,000.
CHEAPER = track({("good", "good"): 9000, ("defective", "defective"): 600,
                 ("defective", "good"): 100, ("good", "defective"): 300})


def roll_out(canary: TrackMeasurements) -> tuple[RolloutDecision, list[str]]:
    """The rollout of v2 over v1 with ``canary``'s numbers at every analysis, until it is
    rolled back or promoted; the events' messages on the way."""
    spec = rollout_spec()
    state = started(spec)
    messages: list[str] = []
    for second in range(0, 900, 30):
        ready = state.canary_replicas
        seen = observed(stable_ready=4 - ready, canary_ready=ready)
        analysis = analyse(spec.analysis, Measurements(canary=canary, stable=STABLE),
                           at(second), costs=COSTS)
        decision = decide_with(inputs(spec, canary=state, observed=seen, now=at(second),
                                      analysis=analysis))
        messages += [e.message for e in decision.events]
        if decision.canary is None or decision.canary.phase in ("RollingBack", "Promoting"):
            return decision, messages
        state = decision.canary
    raise AssertionError(f"no outcome by {at(900)} from {T0}: {messages}")


def test_more_accurate_but_costlier_is_rolled_back_with_the_cost_in_its_unit() -> None:
    assert COSTLIER.accuracy == pytest.approx(0.97) and STABLE.accuracy == pytest.approx(0.95)
    decision, messages = roll_out(COSTLIER)
    assert decision.canary is not None and decision.canary.outcome == "RolledBack"
    assert decision.stable_serving == V1
    last = decision.canary.last_analysis
    assert last is not None
    gate = next(g for g in last.gates if g.name == "costIncrease")
    assert gate.outcome == "Fail" and gate.value == pytest.approx(300.0 - 230.0)
    assert gate.low is not None and gate.high is not None and 0 < gate.low < 70 < gate.high
    accuracy = next(g for g in last.gates if g.name == "accuracyDrop")
    assert accuracy.outcome == "Pass"  # the accuracy alone would have promoted it
    assert f"costIncrease 70 [{gate.low:.3g}, {gate.high:.3g}] EUR per 1,000 cakes > 0" \
        " (10000 canary, 10000 stable labels)" in last.message
    assert any("costIncrease 70 [" in m for m in messages)


def test_cheaper_is_promoted() -> None:
    decision, _ = roll_out(CHEAPER)
    assert decision.canary is not None and decision.canary.phase == "Promoting"
    assert decision.stable_serving == V2
    last = decision.canary.last_analysis
    assert last is not None
    gate = next(g for g in last.gates if g.name == "costIncrease")
    assert gate.outcome == "Pass" and gate.value == pytest.approx(130.0 - 230.0)


def test_the_gate_waits_for_min_feedback_and_is_off_without_costs() -> None:
    spec = rollout_spec()
    few = replace(COSTLIER, confusion={("good", "good"): 30.0, ("defective", "good"): 10.0})
    thin = analyse(spec.analysis, Measurements(canary=few, stable=STABLE), T0, costs=COSTS)
    gate = next(g for g in thin.gates if g.name == "costIncrease")
    assert gate.outcome == "NoData" and (gate.samples, gate.stable_samples) == (40, 10000)
    plain = analyse(spec.analysis, Measurements(canary=COSTLIER, stable=STABLE), T0)
    assert "costIncrease" not in [g.name for g in plain.gates]
    skipped = rollout_spec(skipGates=["costIncrease"])
    off = analyse(skipped.analysis, Measurements(canary=COSTLIER, stable=STABLE), T0,
                  costs=COSTS)
    assert "costIncrease" not in [g.name for g in off.gates]
    assert reasons.ROLLED_BACK  # the catalogue names the outcome the machine reports
