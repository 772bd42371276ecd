"""The gates: canary against stable over one analysis window, every value with its limit.

Pure: measurements in, an Analysis out. A gate without enough data is NoData, never a
pass; the verdict of an analysis short of data comes from spec.rollout.analysis.onNoData
and says so. Measurements that could not be taken at all (Prometheus down) are always
Inconclusive, whatever the policy: nothing is decided on missing data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from vigia.drift import psi
from vigia_operator.core.text import listed, one_sentence
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
    ERROR_RATE,
    INPUT_DRIFT,
    LATENCY_P95,
    PREDICTION_SHIFT,
    AnalysisSpec,
)


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

    @property
    def accuracy(self) -> float | None:
        return self.feedback_correct / self.feedback_total if self.feedback_total > 0 else None

    @property
    def predicted(self) -> float:
        return float(sum(self.predictions.values()))


@dataclass(frozen=True)
class Measurements:
    canary: TrackMeasurements
    stable: TrackMeasurements


def analyse(
    spec: AnalysisSpec, measured: Measurements | None, now: datetime, *, error: str = ""
) -> Analysis:
    """The analysis of one window; ``measured`` None means the numbers could not be read."""
    if measured is None:
        return Analysis(
            at=now, verdict=INCONCLUSIVE, canary_samples=0, stable_samples=0, gates=(),
            message=one_sentence(
                f"Analysis unavailable: {error or 'no measurements'}; nothing decided"),
            no_data=True,
        )
    gates = _gates(spec, measured)
    canary_n, stable_n = int(measured.canary.requests), int(measured.stable.requests)
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
        short = (listed([g.name for g in missing]) if len(missing) <= 2
                 else f"{len(missing)} of {len(gates)} gates")
        head = (f"{verdict}{policy}: too little data for {short} ({canary_n}/"
                f"{spec.min_samples} canary requests, {stable_n} stable"
                f"{_feedback(spec, measured, missing)})")
    else:
        verdict, no_data = PASS, False
        # The gates nearest their limits are the numbers worth reading.
        nearest = sorted(gates, key=lambda g: -(g.value or 0.0) / (g.threshold or 1.0))
        head = f"Pass: {listed([g.describe() for g in nearest])} {counts}"
    # One sentence: every gate's value, threshold and samples are in lastAnalysis.gates.
    return Analysis(
        at=now, verdict=verdict, canary_samples=canary_n, stable_samples=stable_n,
        gates=tuple(gates), message=one_sentence(head), no_data=no_data,
        canary_feedback=int(measured.canary.feedback_total),
        stable_feedback=int(measured.stable.feedback_total),
    )


def _feedback(spec: AnalysisSpec, m: Measurements, missing: list[GateResult]) -> str:
    """The feedback counts, when a gate that needs feedback is short of it."""
    if not any(g.name == ACCURACY_DROP for g in missing):
        return ""
    return (f"; {int(m.canary.feedback_total)}/{spec.min_feedback} canary feedback, "
            f"{int(m.stable.feedback_total)} stable")


def _gates(spec: AnalysisSpec, m: Measurements) -> list[GateResult]:
    limits = spec.gates
    enough = m.canary.requests >= spec.min_samples
    both = enough and m.stable.requests >= spec.min_samples
    candidates = [
        (ERROR_RATE, limits.error_rate, _error_rate(m) if enough else None, m.canary.requests),
        # A ratio: as many samples as the track with fewer.
        (LATENCY_P95, limits.latency_p95, _latency_ratio(m) if both else None,
         min(m.canary.requests, m.stable.requests)),
        (ACCURACY_DROP, limits.accuracy_drop, _accuracy_drop(m, spec.min_feedback),
         m.canary.feedback_total),
        (PREDICTION_SHIFT, limits.prediction_shift, _prediction_shift(m, spec.min_samples),
         m.canary.predicted),
        (INPUT_DRIFT, limits.input_drift, _drift_increase(m) if enough else None,
         m.canary.requests),
    ]
    return [
        _judge(name, value, threshold, samples)
        for name, threshold, value, samples in candidates
        if threshold is not None
    ]


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


def _accuracy_drop(m: Measurements, min_feedback: int) -> float | None:
    if m.canary.feedback_total < min_feedback or m.stable.feedback_total < min_feedback:
        return None
    canary, stable = m.canary.accuracy, m.stable.accuracy
    if canary is None or stable is None:
        return None
    return stable - canary


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
