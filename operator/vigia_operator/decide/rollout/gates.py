"""The gates: canary against stable over one analysis window, every value with its limit.

Pure: measurements in, an Analysis out. A gate without enough data is NoData, never a
pass; the verdict of an analysis short of data comes from spec.rollout.analysis.onNoData
and says so. Measurements that could not be taken at all (Prometheus down) are always
Inconclusive, whatever the policy: nothing is decided on missing data.

accuracyDrop is judged on every feedback label since the canary started (carried from one
analysis to the next), by a confidence sequence valid at every look (sequential.py): it
fails when the canary is surely worse than the margin, passes when it surely is not, and
until one or the other is shown it lacks data like a gate short of samples.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from vigia.costs import CostTable, difference
from vigia.drift import psi
from vigia_operator.core.text import listed, one_sentence
from vigia_operator.decide.rollout import sequential
from vigia_operator.decide.rollout.model import (
    FAIL,
    INCONCLUSIVE,
    NO_DATA,
    PASS,
    Analysis,
    GateOutcome,
    GateResult,
    Verdict,
)
from vigia_operator.view.rollout import (
    ACCURACY_DROP,
    COST_INCREASE,
    ERROR_RATE,
    FEEDBACK_GATES,
    INPUT_DRIFT,
    LATENCY_P95,
    PREDICTION_SHIFT,
    AnalysisSpec,
)

OUTCOME_OF_DROP: dict[sequential.DropVerdict, GateOutcome] = {
    sequential.FAIL: FAIL, sequential.PASS: PASS, sequential.UNDECIDED: NO_DATA}


@dataclass(frozen=True)
class TrackMeasurements:
    """One track's numbers over the window (counts are increases, summed over pods)."""

    requests: float = 0.0
    errors: float = 0.0
    latency_p95_s: float | None = None
    feedback_correct: float = 0.0
    feedback_total: float = 0.0
    predictions: Mapping[str, float] = field(default_factory=dict)  # by predicted class
    input_drift: float | None = None  # highest feature drift score against its own profile
    # Labelled predictions per (actual, predicted) class: the expected cost of its errors.
    confusion: Mapping[tuple[str, str], float] = field(default_factory=dict)

    @property
    def accuracy(self) -> float | None:
        return self.feedback_correct / self.feedback_total if self.feedback_total > 0 else None

    @property
    def labels(self) -> sequential.Labels:
        return sequential.Labels(self.feedback_correct, self.feedback_total)

    @property
    def predicted(self) -> float:
        return float(sum(self.predictions.values()))


@dataclass(frozen=True)
class Measurements:
    canary: TrackMeasurements
    stable: TrackMeasurements


@dataclass(frozen=True)
class LabelsSoFar:
    """Each track's feedback labels counted by the analyses before this one (since the
    canary started), and the share of this window they have not counted yet."""

    canary: sequential.Labels = field(default_factory=sequential.Labels)
    stable: sequential.Labels = field(default_factory=sequential.Labels)
    new_share: float = 1.0

    def with_window(self, m: Measurements) -> tuple[sequential.Labels, sequential.Labels]:
        share = min(1.0, max(0.0, self.new_share))
        return (self.canary.plus(m.canary.labels, share),
                self.stable.plus(m.stable.labels, share))


def analyse(
    spec: AnalysisSpec, measured: Measurements | None, now: datetime, *, error: str = "",
    so_far: LabelsSoFar | None = None, costs: CostTable | None = None,
) -> Analysis:
    """The analysis of one window; ``measured`` None means the numbers could not be read.
    ``costs`` (spec.monitoring.costs) turns the costIncrease gate on."""
    so_far = so_far or LabelsSoFar()
    if measured is None:
        return Analysis(
            at=now, verdict=INCONCLUSIVE, canary_samples=0, stable_samples=0, gates=(),
            message=one_sentence(
                f"Analysis unavailable: {error or 'no measurements'}; nothing decided"),
            no_data=True, canary_labels=so_far.canary, stable_labels=so_far.stable,
        )
    canary_labels, stable_labels = so_far.with_window(measured)
    gates = _gates(spec, measured, canary_labels, stable_labels, costs)
    canary_n, stable_n = int(measured.canary.requests), int(measured.stable.requests)
    labels = (canary_labels, stable_labels)
    failed = [g for g in gates if g.outcome == FAIL]
    missing = [g for g in gates if g.outcome == NO_DATA]
    counts = f"on {canary_n} canary, {stable_n} stable requests"
    verdict: Verdict
    if failed:
        verdict, no_data = FAIL, False
        head = f"Fail: {listed([g.describe() for g in failed], 3)} {counts}"
    elif missing:
        verdict, no_data = spec.on_no_data, True
        policy = "" if verdict == INCONCLUSIVE else f" by onNoData={spec.on_no_data}"
        why = _short_of_data(spec, len(gates), missing, (canary_n, stable_n), labels)
        head = f"{verdict}{policy}: {why}"
    else:
        verdict, no_data = PASS, False
        # The accuracy with its interval and labels, then the gates nearest their limits,
        # are the numbers worth reading.
        nearest = sorted(gates, key=_worth_reading)
        shown = 1 if nearest[0].low is not None else 2  # an interval is long enough alone
        head = f"Pass: {listed([g.describe() for g in nearest], shown)} {counts}"
    # One sentence: every gate's value, threshold and samples are in lastAnalysis.gates.
    return Analysis(
        at=now, verdict=verdict, canary_samples=canary_n, stable_samples=stable_n,
        gates=tuple(gates), message=one_sentence(head), no_data=no_data,
        canary_feedback=int(measured.canary.feedback_total),
        stable_feedback=int(measured.stable.feedback_total),
        canary_labels=canary_labels, stable_labels=stable_labels,
    )


def _worth_reading(gate: GateResult) -> float:
    if gate.low is not None:
        return -math.inf
    return -(gate.value or 0.0) / (gate.threshold or 1.0)


def _short_of_data(spec: AnalysisSpec, gate_count: int, missing: list[GateResult],
                   requests: tuple[int, int],
                   labels: tuple[sequential.Labels, sequential.Labels]) -> str:
    """Why the gates in ``missing`` decide nothing yet: too few samples to measure, or a
    sequential gate whose interval still straddles its limit."""
    canary_n, stable_n = requests
    undecided = [g.describe() for g in missing if g.value is not None]
    lacking = [g for g in missing if g.value is None]
    if not lacking:
        return f"{listed(undecided)} on {canary_n} canary, {stable_n} stable requests"
    short = (listed([g.name for g in lacking]) if len(lacking) <= 2
             else f"{len(lacking)} of {gate_count} gates")
    feedback = ""
    if any(g.name in FEEDBACK_GATES for g in lacking):
        canary, stable = labels
        feedback = (f"; {int(canary.total)}/{spec.min_feedback} canary feedback, "
                    f"{int(stable.total)} stable")
    lacking_text = (f"too little data for {short} ({canary_n}/{spec.min_samples} canary "
                    f"requests, {stable_n} stable{feedback})")
    return "; ".join([lacking_text, *undecided])


def _gates(spec: AnalysisSpec, m: Measurements, canary_labels: sequential.Labels,
           stable_labels: sequential.Labels, costs: CostTable | None = None
           ) -> list[GateResult]:
    limits = spec.gates
    enough = m.canary.requests >= spec.min_samples
    both = enough and m.stable.requests >= spec.min_samples
    candidates = [
        (ERROR_RATE, limits.error_rate, _error_rate(m) if enough else None, m.canary.requests),
        # A ratio: as many samples as the track with fewer.
        (LATENCY_P95, limits.latency_p95, _latency_ratio(m) if both else None,
         min(m.canary.requests, m.stable.requests)),
        (PREDICTION_SHIFT, limits.prediction_shift, _prediction_shift(m, spec.min_samples),
         m.canary.predicted),
        (INPUT_DRIFT, limits.input_drift, _drift_increase(m) if enough else None,
         m.canary.requests),
    ]
    judged = [
        _judge(name, value, threshold, samples)
        for name, threshold, value, samples in candidates
        if threshold is not None
    ]
    feedback_gate = limits.feedback_gate
    if feedback_gate is not None:  # in the order of the spec's gates: third
        name, margin = feedback_gate
        judged.insert(min(2, len(judged)), _accuracy_drop(
            margin, spec.min_feedback, canary_labels, stable_labels, name))
    if limits.cost_increase is not None and costs is not None:
        judged.append(_cost_increase(limits.cost_increase, spec.min_feedback, m, costs))
    return judged


def _cost_increase(limit: float, min_feedback: int, m: Measurements,
                   costs: CostTable) -> GateResult:
    """Canary minus stable expected cost per 1,000 predictions over the window, with its 95%
    interval; judged on the estimate once each track has ``min_feedback`` labels."""
    canary, stable = costs.estimate(m.canary.confusion), costs.estimate(m.stable.confusion)
    canary_n, stable_n = (canary.rows if canary else 0), (stable.rows if stable else 0)
    if canary is None or stable is None or min(canary_n, stable_n) < min_feedback:
        return GateResult(COST_INCREASE, None, limit, NO_DATA, canary_n,
                          stable_samples=stable_n, unit=costs.unit)
    found = difference(canary, stable)
    outcome: GateOutcome = PASS if found.value <= limit else FAIL
    return GateResult(COST_INCREASE, found.value, limit, outcome, canary_n, low=found.low,
                      high=found.high, stable_samples=stable_n, unit=costs.unit)


def _judge(name: str, value: float | None, threshold: float, samples: float) -> GateResult:
    outcome: GateOutcome = NO_DATA if value is None else PASS if value <= threshold else FAIL
    return GateResult(name, value, threshold, outcome, int(samples))


def _error_rate(m: Measurements) -> float | None:
    if m.canary.requests <= 0:
        return None
    return m.canary.errors / m.canary.requests


def _latency_ratio(m: Measurements) -> float | None:
    canary, stable = m.canary.latency_p95_s, m.stable.latency_p95_s
    if canary is None or stable is None or stable <= 0:
        return None
    return canary / stable


def _accuracy_drop(margin: float, min_feedback: int, canary: sequential.Labels,
                   stable: sequential.Labels, name: str = ACCURACY_DROP) -> GateResult:
    """Stable - canary accuracy on the labels since the canary started, with its
    confidence sequence, judged against the margin. For a regressor (``name``
    maxErrorIncrease) "correct" is within the tolerance, so the same difference is the
    rise of the canary's share off by more than it."""
    if canary.total < min_feedback or stable.total < min_feedback:
        return GateResult(name, None, margin, NO_DATA, int(canary.total))
    interval = sequential.drop_interval(canary, stable)
    outcome = OUTCOME_OF_DROP[sequential.judge_drop(interval, margin)]
    return GateResult(name, interval.estimate, margin, outcome, int(canary.total),
                      low=interval.low, high=interval.high, stable_samples=int(stable.total))


def _prediction_shift(m: Measurements, min_samples: int) -> float | None:
    """PSI of the canary's predicted-class shares against the stable's."""
    if m.canary.predicted < min_samples or m.stable.predicted < min_samples:
        return None
    classes = sorted(set(m.canary.predictions) | set(m.stable.predictions))
    total = m.stable.predicted
    reference = {c: m.stable.predictions.get(c, 0.0) / total for c in classes}
    return psi(reference, {c: m.canary.predictions.get(c, 0.0) for c in classes})


def _drift_increase(m: Measurements) -> float | None:
    """How much more the canary's inputs drift from its training data than the stable's."""
    if m.canary.input_drift is None or m.stable.input_drift is None:
        return None
    return m.canary.input_drift - m.stable.input_drift
