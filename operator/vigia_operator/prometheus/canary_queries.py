"""PromQL of the canary analysis, and its results split into per-track measurements.

One query per signal and distinct window for every ModelDeployment at once, grouped by
(namespace, model, track, version): the version keeps a replaced canary's last requests out
of its successor's analysis. Every query names the namespace label, so ModelDeployments of
the same name in two namespaces never mix.

Request counts and latency come from the model server's own request series, which it
labels with namespace, model, version and track itself (vigia_serving.requestmetrics): any
scrape configuration gives them, relabelled or not.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Final

from vigia import metrics
from vigia.drift import EPSILON
from vigia_operator.decide.rollout.gates import Measurements, TrackMeasurements
from vigia_operator.prometheus.client import Sample

PREDICT_ENDPOINT: Final = "/predict"
SERVER_ERRORS: Final = "5.."
LATENCY_QUANTILE: Final = 0.95

KEY_LABELS: Final = (
    metrics.LABEL_NAMESPACE, metrics.LABEL_MODEL, metrics.LABEL_TRACK, metrics.LABEL_VERSION
)
KEY: Final = ", ".join(KEY_LABELS)


class CanarySignal(StrEnum):
    REQUESTS = "canary_requests"
    ERRORS = "canary_errors"
    LATENCY_P95 = "canary_latency_p95"
    FEEDBACK = "canary_feedback"
    PREDICTIONS = "canary_predictions"
    INPUT_DRIFT = "canary_input_drift"
    CONFUSION = "canary_confusion"


@dataclass(frozen=True)
class CanaryQuery:
    signal: CanarySignal
    window: str
    promql: str


def _increase(series: str, window: str, matcher: str, *extra: str) -> str:
    by = ", ".join([KEY, *extra])
    return f"sum by ({by}) (increase({series}{{{matcher}}}[{window}]))"


def _predict(extra: str = "") -> str:
    """Matcher of /predict requests (namespace present: never a series without it)."""
    base = f'{metrics.LABEL_NAMESPACE}!="", {metrics.LABEL_ENDPOINT}="{PREDICT_ENDPOINT}"'
    return f"{base}, {extra}" if extra else base


NAMESPACED: Final = f'{metrics.LABEL_NAMESPACE}!=""'


def render(signal: CanarySignal, window: str) -> str:
    """The PromQL of one canary signal over ``window`` for every ModelDeployment."""
    match signal:
        case CanarySignal.REQUESTS:
            return _increase(metrics.REQUESTS_SERIES, window, _predict())
        case CanarySignal.ERRORS:
            return _increase(metrics.REQUESTS_SERIES, window,
                             _predict(f'{metrics.LABEL_CODE}=~"{SERVER_ERRORS}"'))
        case CanarySignal.LATENCY_P95:
            buckets = f"rate({metrics.REQUEST_DURATION}_bucket{{{_predict()}}}[{window}])"
            return (f"histogram_quantile({LATENCY_QUANTILE}, "
                    f"sum by ({KEY}, le) ({buckets}))")
        case CanarySignal.FEEDBACK:
            return _increase(metrics.FEEDBACK_SERIES, window, NAMESPACED, metrics.LABEL_OUTCOME)
        case CanarySignal.PREDICTIONS:
            return _increase(metrics.PREDICTIONS_SERIES, window, NAMESPACED, metrics.LABEL_CLASS)
        case CanarySignal.INPUT_DRIFT:
            return _input_drift(window)
        case CanarySignal.CONFUSION:
            return _increase(metrics.CONFUSION_SERIES, window, NAMESPACED,
                             metrics.LABEL_ACTUAL, metrics.LABEL_PREDICTED)
    raise AssertionError(signal)


def _input_drift(window: str) -> str:
    """The highest feature PSI of each track's inputs against its own training profile."""
    feature, bin_ = metrics.LABEL_FEATURE, metrics.LABEL_BIN
    counts = _increase(metrics.FEATURE_BIN_SERIES, window, NAMESPACED, feature, bin_)
    totals = _increase(metrics.FEATURE_BIN_SERIES, window, NAMESPACED, feature)
    observed = f"({counts} / ignoring ({bin_}) group_left () ({totals} > 0))"
    expected = f"max by ({KEY}, {feature}, {bin_}) ({metrics.FEATURE_REFERENCE}{{{NAMESPACED}}})"
    o, e = f"clamp_min({observed}, {EPSILON!r})", f"clamp_min({expected}, {EPSILON!r})"
    per_feature = f"sum by ({KEY}, {feature}) (({o} - {e}) * ln({o} / {e}))"
    return f"max by ({KEY}) ({per_feature})"


def queries_for(windows: Iterable[str]) -> list[CanaryQuery]:
    return [CanaryQuery(s, w, render(s, w)) for w in sorted(set(windows)) for s in CanarySignal]


ModelKey = tuple[str, str]  # namespace, ModelDeployment name
TrackKey = tuple[str, str]  # track, version


@dataclass
class CanarySignals:
    """One window's canary measurements of every ModelDeployment, by track and version."""

    tracks: dict[ModelKey, dict[TrackKey, TrackMeasurements]] = field(default_factory=dict)

    def add(self, signal: CanarySignal, samples: Iterable[Sample]) -> None:
        for sample in samples:
            labels = sample.labels
            try:
                model = (labels[metrics.LABEL_NAMESPACE], labels[metrics.LABEL_MODEL])
                track = (labels[metrics.LABEL_TRACK], labels[metrics.LABEL_VERSION])
            except KeyError:
                continue
            if math.isnan(sample.value) or math.isinf(sample.value):
                continue
            per_model = self.tracks.setdefault(model, {})
            per_model[track] = _file(signal, per_model.get(track, TrackMeasurements()),
                                     labels, sample.value)

    def measurements(self, model: ModelKey, canary_version: str,
                     stable_version: str) -> Measurements:
        per_model = self.tracks.get(model, {})
        empty = TrackMeasurements()
        return Measurements(
            canary=per_model.get((metrics.TRACK_CANARY, canary_version), empty),
            stable=per_model.get((metrics.TRACK_STABLE, stable_version), empty),
        )


def _file(signal: CanarySignal, track: TrackMeasurements, labels: Mapping[str, str],
          value: float) -> TrackMeasurements:
    match signal:
        case CanarySignal.REQUESTS:
            return replace(track, requests=value)
        case CanarySignal.ERRORS:
            return replace(track, errors=value)
        case CanarySignal.LATENCY_P95:
            return replace(track, latency_p95_s=value)
        case CanarySignal.FEEDBACK:
            total = track.feedback_total + value
            correct = track.feedback_correct + (
                value if labels.get(metrics.LABEL_OUTCOME) == metrics.OUTCOME_CORRECT else 0.0)
            return replace(track, feedback_total=total, feedback_correct=correct)
        case CanarySignal.PREDICTIONS:
            predictions = {**track.predictions, labels.get(metrics.LABEL_CLASS, ""): value}
            return replace(track, predictions=predictions)
        case CanarySignal.INPUT_DRIFT:
            return replace(track, input_drift=value)
        case CanarySignal.CONFUSION:
            cell = (labels.get(metrics.LABEL_ACTUAL, ""), labels.get(metrics.LABEL_PREDICTED, ""))
            return replace(track, confusion={**track.confusion, cell: value})
    raise AssertionError(signal)
