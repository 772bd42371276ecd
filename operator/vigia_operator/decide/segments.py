"""Segments in the drift verdict (pure): which values of the segment features drifted, each
judged on its own rows against its own training reference (vigia.segments), so a drift
confined to one segment is named even when the whole population's score stays low.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from vigia.segments import label
from vigia_operator.decide.measurements import SegmentKey, TrackSignals
from vigia_operator.view.monitoring import MonitoringSpec

SHOWN: Final = 10  # drifted segments kept in status.monitoring.drift.segments, worst first


@dataclass(frozen=True)
class SegmentDrift:
    """status.monitoring.drift.segments[]: one drifted (segment, value, feature)."""

    segment: str
    value: str
    feature: str
    score: float
    rows: int

    @property
    def named(self) -> str:
        return f"{self.feature} ({self.score:.3f}) in {label(self.segment, self.value)}"


def _scores(spec: MonitoringSpec, m: TrackSignals) -> dict[SegmentKey, float]:
    return m.segment_psi if spec.statistic == "PSI" else m.segment_jensen_shannon


def drifted_segments(spec: MonitoringSpec, m: TrackSignals) -> list[SegmentDrift]:
    """Every (segment, value, feature) above the threshold with at least
    ``drift.minSamples`` rows of its own, worst first."""
    wanted = set(spec.segments)
    found = [
        SegmentDrift(key[0], key[1], key[2], round(score, 4),
                     round(m.segment_rows.get(key, 0.0)))
        for key, score in _scores(spec, m).items()
        if key[0] in wanted and score > spec.drift_threshold
        and m.segment_rows.get(key, 0.0) >= spec.drift_min_samples
    ]
    return sorted(found, key=lambda d: -d.score)


@dataclass(frozen=True)
class SegmentAccuracy:
    """status.monitoring.segmentAccuracy[]: one segment value's accuracy from feedback."""

    segment: str
    value: str
    accuracy: float
    feedback: int

    @property
    def named(self) -> str:
        return (f"accuracy {self.accuracy:.2f} for {label(self.segment, self.value)}"
                f" ({self.feedback} labels)")


def segment_accuracies(spec: MonitoringSpec, m: TrackSignals) -> list[SegmentAccuracy]:
    """Each asked-for segment value with at least ``accuracy.minFeedback`` labels of its
    own, lowest accuracy first."""
    wanted = set(spec.segments)
    found = [SegmentAccuracy(key[0], key[1], round(accuracy, 4),
                             round(m.segment_feedback.get(key, 0.0)))
             for key, accuracy in m.segment_accuracy.items()
             if key[0] in wanted and m.segment_feedback.get(key, 0.0) >= spec.accuracy_min_feedback]
    return sorted(found, key=lambda a: a.accuracy)


def low_accuracy(spec: MonitoringSpec, m: TrackSignals) -> list[SegmentAccuracy]:
    return [a for a in segment_accuracies(spec, m) if a.accuracy < spec.accuracy_min]
