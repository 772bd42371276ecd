"""Monitoring metrics of one model server (names from vigia.metrics, never spelled here).

Everything is counted per micro-batch with numpy (bin indices, bincount) and label
children bound once at start-up, so the cost per row stays a few microseconds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

from vigia import metrics
from vigia.calibration.check import Calibration
from vigia.features import FeatureSchema
from vigia.profile import NUMERIC_BINS, NumericProfile, TrainingProfile

from .estimate import EstimateCounters
from .feedback import FeedbackResult
from .segments import SegmentCounters

REASON_INVALID = "invalid_input"
REASON_TOO_LARGE = "too_large"
REASON_NOT_READY = "not_ready"


# Up to this many classes, every confusion cell is exported at zero from the start (k²
# series); beyond, a cell appears with its first label and increase() misses that label.
CONFUSION_AT_ZERO_MAX_CLASSES = 20


class _FeatureCounters:
    """Bound counter children of one feature: one per bin, plus missing and out-of-range."""

    def __init__(
        self,
        name: str,
        profile: TrainingProfile,
        bins: Counter,
        missing: Counter,
        out_of_range: Counter,
        base: tuple[str, ...],
    ) -> None:
        self.name = name
        self.profile = profile.feature(name)
        self.bins = [bins.labels(*base, name, label) for label in profile.bin_labels(name)]
        self.missing = missing.labels(*base, name)
        self.out_of_range = out_of_range.labels(*base, name)

    def observe(self, values: np.ndarray) -> None:
        indices = self.profile.bin_indices(values)
        counts = np.bincount(indices + 1, minlength=len(self.bins) + 1)
        if counts[0]:
            self.missing.inc(int(counts[0]))
        for child, count in zip(self.bins, counts[1:].tolist(), strict=True):
            if count:
                child.inc(count)
        if isinstance(self.profile, NumericProfile):
            outside = int(np.count_nonzero(self.profile.out_of_range(values)))
            if outside:
                self.out_of_range.inc(outside)


@dataclass(frozen=True)
class MonitoringFamilies:
    """The families a device's aggregates are folded into (vigia_serving.telemetry), and
    the server labels (without ``source``) of the version this server serves."""

    predictions: Counter
    confidence: Histogram
    bins: Counter
    missing: Counter
    out_of_range: Counter
    feedback: Counter
    base: tuple[str, str, str, str]


class Monitor:
    """Prometheus counters for predictions, input drift, confidence and feedback."""

    def __init__(
        self,
        *,
        namespace: str,
        model: str,
        version: str,
        track: str,
        schema: FeatureSchema,
        profile: TrainingProfile,
        classes: Sequence[str],
        registry: CollectorRegistry = REGISTRY,
        calibration: Calibration | None = None,
        segments: Sequence[str] = (),
    ) -> None:
        """For a regressor (``profile.prediction`` set) the predictions are counted by
        the training decile of their value, and feedback adds up its errors."""
        base = (namespace, model, version, track)
        server = (*base, metrics.SOURCE_SERVER)
        # The monitoring families carry ``source``; devices' aggregates count under theirs.
        labels = [*metrics.SERVER_LABELS, metrics.LABEL_SOURCE]
        predictions = Counter(
            metrics.PREDICTIONS, "Predictions by predicted class.",
            [*labels, metrics.LABEL_CLASS], registry=registry,
        )
        confidence = Histogram(
            metrics.CONFIDENCE, "Max class probability of each prediction.",
            labels, buckets=metrics.CONFIDENCE_BUCKETS, registry=registry,
        )
        bins = Counter(
            metrics.FEATURE_BIN, "Input values per training-decile bin (or category).",
            [*labels, metrics.LABEL_FEATURE, metrics.LABEL_BIN], registry=registry,
        )
        missing = Counter(
            metrics.FEATURE_MISSING, "Missing input values.",
            [*labels, metrics.LABEL_FEATURE], registry=registry,
        )
        out_of_range = Counter(
            metrics.FEATURE_OUT_OF_RANGE, "Numeric input values outside the training range.",
            [*labels, metrics.LABEL_FEATURE], registry=registry,
        )
        feedback = Counter(
            metrics.FEEDBACK, "Feedback labels by outcome (prediction correct or not).",
            [*labels, metrics.LABEL_OUTCOME], registry=registry,
        )
        confusion = Counter(
            metrics.CONFUSION, "Feedback labels by actual and predicted class.",
            [*labels, metrics.LABEL_ACTUAL, metrics.LABEL_PREDICTED], registry=registry,
        )
        labelled = Counter(
            metrics.FEEDBACK_LABELLED,
            "Predictions whose true class became known through feedback (given, or implied "
            "by correct: true|false); divided by the predictions, the share labelled.",
            labels, registry=registry,
        )
        rejected = Counter(
            metrics.REJECTED_REQUESTS, "Requests refused before prediction, by reason.",
            [*metrics.SERVER_LABELS, metrics.LABEL_REASON], registry=registry,
        )
        self._output = profile.prediction
        if self._output is not None:
            classes = NUMERIC_BINS
        self.families = MonitoringFamilies(
            predictions, confidence, bins, missing, out_of_range, feedback, base
        )
        self._classes = [predictions.labels(*server, c) for c in classes]
        self._confidence = None if self._output is not None else confidence.labels(*server)
        self._errors = None if self._output is None else _error_counters(labels, server, registry)
        self._features = [
            _FeatureCounters(name, profile, bins, missing, out_of_range, server)
            for name in schema.names
        ]
        outcomes = (metrics.OUTCOME_CORRECT, metrics.OUTCOME_INCORRECT)
        self._feedback = feedback
        self._confusion = confusion
        self._labelled = labelled
        self._rejected = rejected
        self._base = base
        for name in (REASON_INVALID, REASON_TOO_LARGE, REASON_NOT_READY):
            rejected.labels(*base, name)  # exported at zero from the start
        for outcome in outcomes:
            feedback.labels(*server, outcome).inc(0)
        labelled.labels(*server).inc(0)
        if self._output is None and len(classes) <= CONFUSION_AT_ZERO_MAX_CLASSES:
            # Every cell at zero before the first feedback, so increase() counts the first
            # label of each cell too (per-class recall and precision, the error cost).
            for actual in classes:
                for predicted in classes:
                    confusion.labels(*server, actual, predicted).inc(0)
        export_reference(profile, schema.names, base, registry)
        self._estimate = (None if calibration is None
                          else EstimateCounters(calibration, base, registry))
        self._segments = (SegmentCounters(profile, schema.names, segments, base, registry)
                          if segments else None)

    def observe_batch(self, columns: Mapping[str, np.ndarray], proba: np.ndarray) -> None:
        """Count one batch of inputs (checked columns) and their predicted probabilities
        (a regressor's: its predicted values)."""
        if self._output is not None:
            bins = self._output.bin_indices(proba)
            winners = np.bincount(bins[bins >= 0], minlength=len(self._classes))
        else:
            winners = np.bincount(proba.argmax(axis=1), minlength=len(self._classes))
        for child, count in zip(self._classes, winners.tolist(), strict=True):
            if count:
                child.inc(count)
        if self._confidence is not None:
            for value in proba.max(axis=1).tolist():
                self._confidence.observe(value)
        if self._estimate is not None:
            self._estimate.observe(proba)
        for counters in self._features:
            counters.observe(columns[counters.name])
        if self._segments is not None:
            self._segments.observe(columns)

    def observe_feedback(self, results: Iterable[FeedbackResult]) -> None:
        """Count new (not repeated) feedback: its outcome, and once the true class is known
        (with it, or later), the confusion cell and the labelled prediction."""
        for result in results:
            if result.duplicate:
                continue
            made_by = self._made_by(result)
            if not result.completed:  # a completed one's outcome was counted before
                outcome = metrics.OUTCOME_CORRECT if result.correct else metrics.OUTCOME_INCORRECT
                self._feedback.labels(*made_by, outcome).inc()
                if self._segments is not None:  # its counters carry no source: server only
                    self._segments.observe_feedback(made_by[:-1], result.features, result.correct)
            if result.error is not None and self._errors is not None:
                absolute, squared = self._errors
                absolute.labels(*made_by).inc(abs(result.error))
                squared.labels(*made_by).inc(result.error * result.error)
                self._labelled.labels(*made_by).inc()
            elif result.label is not None:
                self._confusion.labels(*made_by, result.label, result.predicted).inc()
                self._labelled.labels(*made_by).inc()

    def _made_by(self, result: FeedbackResult) -> tuple[str, str, str, str, str]:
        """The server labels of the version that made the prediction, which a label sent
        through a Service shared by two tracks may not have reached."""
        namespace, model, version, track = self._base
        version, track = result.version or version, result.track or track
        return namespace, model, version, track, metrics.SOURCE_SERVER

    def reject(self, reason: str) -> None:
        self._rejected.labels(*self._base, reason).inc()


def _error_counters(
    labels: list[str], base: tuple[str, ...], registry: CollectorRegistry
) -> tuple[Counter, Counter]:
    """A regressor's error sums, exported at zero from the start."""
    absolute = Counter(
        metrics.FEEDBACK_ABSOLUTE_ERROR,
        "Sum of |true - predicted| over feedback values, in the model's units.",
        labels, registry=registry,
    )
    squared = Counter(
        metrics.FEEDBACK_SQUARED_ERROR,
        "Sum of (true - predicted)^2 over feedback values, in the model's units squared.",
        labels, registry=registry,
    )
    absolute.labels(*base).inc(0)
    squared.labels(*base).inc(0)
    return absolute, squared


def export_reference(
    profile: TrainingProfile,
    features: Iterable[str],
    base: tuple[str, ...],
    registry: CollectorRegistry,
) -> None:
    """The training reference as gauges: each bin's training share, each class's prior."""
    labels = list(metrics.SERVER_LABELS)
    # Several worker processes export the same constants: one value, not one per process.
    shares = Gauge(
        metrics.FEATURE_REFERENCE, "Share of each bin (or category) in the training data.",
        [*labels, metrics.LABEL_FEATURE, metrics.LABEL_BIN], registry=registry,
        multiprocess_mode="max",
    )
    priors = Gauge(
        metrics.CLASS_PRIOR, "Share of each class in the training labels.",
        [*labels, metrics.LABEL_CLASS], registry=registry, multiprocess_mode="max",
    )
    for feature in features:
        for label, share in profile.reference_shares(feature).items():
            shares.labels(*base, feature, label).set(share)
    for label, prior in profile.class_priors.items():
        priors.labels(*base, label).set(prior)
    export_confidence_reference(profile, base, registry)


def export_confidence_reference(
    profile: TrainingProfile, base: tuple[str, ...], registry: CollectorRegistry
) -> None:
    """The model's confidence on its holdout, binned at bundle time as the live histogram
    (share at or below each bound), and the rows behind it: the ConfidenceShift reference."""
    labels = list(metrics.SERVER_LABELS)
    shares = Gauge(
        metrics.CONFIDENCE_REFERENCE,
        "Share of the holdout's predictions with confidence at or below le (bundle time).",
        [*labels, "le"], registry=registry, multiprocess_mode="max",
    )
    rows = Gauge(
        metrics.CONFIDENCE_REFERENCE_ROWS, "Holdout predictions behind the confidence reference.",
        labels, registry=registry, multiprocess_mode="max",
    )
    reference = profile.confidence
    if reference is None:  # a regressor: no class probabilities, no confidence
        return
    for bound, share in zip(reference.buckets, reference.cumulative_shares, strict=True):
        shares.labels(*base, repr(float(bound))).set(share)
    rows.labels(*base).set(reference.rows)
