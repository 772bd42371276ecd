"""The canary's accuracy verdict by simulation: labels needed to roll back a drop, share of
non-inferior canaries promoted, and the A/A false-rollback rate.

    python3 benchmarks/canary_sequential.py [--runs 200] [--seed 7]

Each simulated rollout feeds the operator's own gate judgement (gates.analyse, with the
labels carried from analysis to analysis as the rollout step carries them in status) one
analysis window at a time: LOOK labelled canary predictions per window and STABLE_PER_CANARY
times as many stable ones (a canary at 20% of the traffic), each label correct with its
track's accuracy. The rollout machine's rules are applied to the verdicts: failureLimit
(2) failed analyses roll back, a passing analysis ends a step and the second ends the
rollout (two steps), Inconclusive waits. A rollout still undecided after the horizon is
counted as waiting. The old rule (the accuracy difference of one window against the margin,
windows of minFeedback labels) is simulated beside it for the A/A rate. Fixed seed; prints
figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools" / "testbed"))
importlib.import_module("vigia_testbed.checkout").use_this_checkout()

from vigia_operator.decide.rollout.gates import (  # noqa: E402
    LabelsSoFar,
    Measurements,
    TrackMeasurements,
    analyse,
)
from vigia_operator.decide.rollout.model import Analysis  # noqa: E402
from vigia_operator.view.rollout import AnalysisSpec, parse_rollout  # noqa: E402

LOOK = 20  # labelled canary predictions per analysis window
STABLE_PER_CANARY = 4
FAILURE_LIMIT = 2
STEPS = 2
BASE = 0.90  # the stable's accuracy
NOW = datetime(2026, 1, 1, tzinfo=UTC)  # the analyses' time plays no part here


@dataclass(frozen=True)
class Outcome:
    ending: str  # RolledBack, Promoted or Waiting
    labels: int  # canary labels when it ended


def spec_of(margin: float) -> AnalysisSpec:
    """The accuracy gate alone (the other gates have nothing to say here)."""
    return parse_rollout({"rollout": {"analysis": {
        "minFeedback": 50, "failureLimit": FAILURE_LIMIT,
        "skipGates": ["errorRate", "latencyP95", "predictionShift", "inputDrift"],
        "gates": {"accuracyDrop": margin}}}}).analysis


def window(correct: int, total: int) -> TrackMeasurements:
    return TrackMeasurements(requests=total, feedback_correct=correct, feedback_total=total)


def rollout(spec: AnalysisSpec, canary_p: float, stable_p: float, horizon: int,
            rng: np.random.Generator) -> Outcome:
    last: Analysis | None = None
    failures = passes = 0
    for look in range(1, horizon // LOOK + 1):
        canary = int(rng.binomial(LOOK, canary_p))
        stable = int(rng.binomial(LOOK * STABLE_PER_CANARY, stable_p))
        so_far = LabelsSoFar() if last is None else LabelsSoFar(
            last.canary_labels, last.stable_labels)
        last = analyse(spec, Measurements(window(canary, LOOK),
                                          window(stable, LOOK * STABLE_PER_CANARY)),
                       NOW, so_far=so_far)
        if last.verdict == "Fail":
            failures += 1
            if failures >= FAILURE_LIMIT:
                return Outcome("RolledBack", look * LOOK)
        elif last.verdict == "Pass":
            passes += 1
            if passes >= STEPS:
                return Outcome("Promoted", look * LOOK)
    return Outcome("Waiting", horizon)


def old_rule_rolls_back(margin: float, p: float, horizon: int,
                        rng: np.random.Generator, window_labels: int = 50) -> bool:
    """The judgement before: each window's own accuracy difference against the margin."""
    failures = 0
    for _ in range(horizon // window_labels):
        canary = rng.binomial(window_labels, p) / window_labels
        stable = rng.binomial(window_labels * STABLE_PER_CANARY, p) / (
            window_labels * STABLE_PER_CANARY)
        failures += stable - canary > margin
        if failures >= FAILURE_LIMIT:
            return True
    return False


def scenario(name: str, spec: AnalysisSpec, canary_p: float, runs: int, horizon: int,
             rng: np.random.Generator) -> list[Outcome]:
    outcomes = [rollout(spec, canary_p, BASE, horizon, rng) for _ in range(runs)]
    by: dict[str, list[int]] = {}
    for o in outcomes:
        by.setdefault(o.ending, []).append(o.labels)
    parts = []
    for ending in ("RolledBack", "Promoted", "Waiting"):
        labels = by.get(ending, [])
        if not labels and ending != "RolledBack":
            continue
        share = f"{ending} {len(labels) / runs:.1%}"
        if ending != "Waiting" and labels:
            share += (f" (canary labels median {statistics.median(labels):.0f}, "
                      f"p90 {np.percentile(labels, 90):.0f}, max {max(labels)})")
        parts.append(share)
    margin = spec.gates.accuracy_drop
    print(f"{name:<44} canary {canary_p:.2f} vs stable {BASE:.2f}, margin {margin:g}: "
          + "; ".join(parts))
    return outcomes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--horizon", type=int, default=3000,
                        help="canary labels after which a rollout is counted as waiting")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    default, wide = spec_of(0.02), spec_of(0.05)
    print(f"{args.runs} rollouts per line, a look every {LOOK} canary labels "
          f"({STABLE_PER_CANARY}x as many stable), failureLimit {FAILURE_LIMIT}, "
          f"{STEPS} steps, horizon {args.horizon} canary labels, seed {args.seed}")
    scenario("10-point drop", default, BASE - 0.10, args.runs, args.horizon, rng)
    scenario("10-point drop, wider margin", wide, BASE - 0.10, args.runs, args.horizon, rng)
    scenario("3-point drop", default, BASE - 0.03, args.runs, args.horizon * 4, rng)
    scenario("non-inferior: 3 points better", default, BASE + 0.03, args.runs, args.horizon,
             rng)
    scenario("non-inferior: as good (A/A)", default, BASE, args.runs, args.horizon, rng)
    scenario("non-inferior: as good (A/A), wider margin", wide, BASE, args.runs,
             args.horizon, rng)
    old = sum(old_rule_rolls_back(0.02, BASE, args.horizon, rng) for _ in range(args.runs))
    print(f"{'old rule, A/A':<44} window difference > 0.02 on 50-label windows: "
          f"RolledBack {old / args.runs:.1%}")


if __name__ == "__main__":
    main()
