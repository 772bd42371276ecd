"""Telemetry without data: the aggregates a device runner or the browser page may send.

A report holds counts only, on the training bins the server already counts on: predictions
by class, the confidence histogram (CONFIDENCE_BUCKETS, plus the sum of confidences), per
feature the rows per bin, missing and out of range, and feedback outcomes. There is no
field a raw input could travel in: every value is a bounded count (or the confidence sum)
and every key is a class, a bin label, a feature name or an outcome the server knows.

``parse_report`` checks a decoded JSON report against what the server serves and names the
first field that does not fit (``features.line_speed.bins.12: unknown bin``). Standard
library only: the device runner and the model server both use it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from vigia import metrics

TELEMETRY_PATH = "/telemetry"
# One report covers at most this many predictions (and this many feedback outcomes): a
# device sends at least that often, and a forged report moves a counter by that at most.
MAX_REPORT_COUNT = 1_000_000
# The largest body accepted: counts for a few hundred bins fit in a few KiB.
MAX_REPORT_BYTES = 64 * 1024
# Confidence buckets as sent: one count per CONFIDENCE_BUCKETS bound (non-cumulative:
# values in (previous bound, bound]), then the values above the last bound.
CONFIDENCE_SLOTS = len(metrics.CONFIDENCE_BUCKETS) + 1
REPORT_FIELDS = frozenset(
    {"model", "version", "source", "predictions", "classes", "confidence", "features",
     "feedback"}
)
FEATURE_FIELDS = frozenset({"bins", "missing", "out_of_range"})
CONFIDENCE_FIELDS = frozenset({"buckets", "sum"})
OUTCOMES = (metrics.OUTCOME_CORRECT, metrics.OUTCOME_INCORRECT)


class ReportError(ValueError):
    """A report that does not fit the schema; ``field`` names where."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class Expected:
    """What the receiving server serves: reports must name these and nothing else."""

    model: str
    version: str
    classes: tuple[str, ...]
    bins: Mapping[str, tuple[str, ...]]  # feature -> bin labels


@dataclass(frozen=True)
class FeatureCounts:
    bins: dict[str, int]
    missing: int
    out_of_range: int


@dataclass(frozen=True)
class Report:
    source: str
    version: str
    predictions: int
    classes: dict[str, int]
    confidence_buckets: tuple[int, ...]
    confidence_sum: float
    features: dict[str, FeatureCounts]
    feedback: dict[str, int]


def confidence_slot(value: float) -> int:
    """The bucket of one confidence: the first bound it does not exceed (Prometheus ``le``)."""
    for i, bound in enumerate(metrics.CONFIDENCE_BUCKETS):
        if value <= bound:
            return i
    return len(metrics.CONFIDENCE_BUCKETS)


def parse_report(data: Any, expected: Expected) -> Report:
    """A checked report, or ReportError naming the first field that does not fit."""
    if not isinstance(data, Mapping):
        raise ReportError("body", "expected a JSON object")
    unknown = sorted(set(data) - REPORT_FIELDS)
    if unknown:
        raise ReportError(unknown[0], "unknown field; a report carries aggregates only")
    source = _text(data, "source")
    if source not in metrics.DEVICE_SOURCES:
        raise ReportError("source", f"expected one of {', '.join(metrics.DEVICE_SOURCES)}")
    if _text(data, "model") != expected.model:
        raise ReportError("model", f"this server serves model {expected.model!r}")
    version = _text(data, "version")
    if version != expected.version:
        raise ReportError("version", f"this server serves version {expected.version!r}")
    predictions = _count(data.get("predictions"), "predictions")
    classes = _counts(data.get("classes", {}), "classes", expected.classes)
    _total(classes.values(), predictions, "classes")
    buckets, total = _confidence(data.get("confidence", {}), predictions)
    features = _features(data.get("features", {}), expected.bins, predictions)
    feedback = _counts(data.get("feedback", {}), "feedback", OUTCOMES)
    return Report(source, version, predictions, classes, buckets, total, features, feedback)


def _text(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str):
        raise ReportError(name, "expected a string")
    return value


def _count(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ReportError(where, "expected a whole number")
    if not 0 <= value <= MAX_REPORT_COUNT:
        raise ReportError(where, f"expected 0 to {MAX_REPORT_COUNT}")
    return value


def _counts(value: Any, where: str, allowed: Sequence[str]) -> dict[str, int]:
    if not isinstance(value, Mapping):
        raise ReportError(where, "expected an object of counts")
    for key in value:
        if key not in allowed:
            raise ReportError(f"{where}.{key}", f"unknown; expected one of {', '.join(allowed)}")
    return {key: _count(count, f"{where}.{key}") for key, count in value.items()}


def _total(counts: Any, predictions: int, where: str) -> None:
    total = sum(counts)
    if total != predictions:
        raise ReportError(where, f"counts add up to {total}, not to the {predictions} predictions")


def _confidence(value: Any, predictions: int) -> tuple[tuple[int, ...], float]:
    if not isinstance(value, Mapping):
        raise ReportError("confidence", "expected an object")
    unknown = sorted(set(value) - CONFIDENCE_FIELDS)
    if unknown:
        raise ReportError(f"confidence.{unknown[0]}", "unknown field")
    buckets = value.get("buckets", [0] * CONFIDENCE_SLOTS)
    if not isinstance(buckets, list) or len(buckets) != CONFIDENCE_SLOTS:
        raise ReportError("confidence.buckets", f"expected a list of {CONFIDENCE_SLOTS} counts")
    counts = tuple(_count(c, f"confidence.buckets[{i}]") for i, c in enumerate(buckets))
    _total(counts, predictions, "confidence.buckets")
    total = value.get("sum", 0.0)
    if isinstance(total, bool) or not isinstance(total, int | float) or not math.isfinite(total):
        raise ReportError("confidence.sum", "expected a number")
    # A confidence is a probability: the sum lies in [0, predictions] (float32 rounding aside).
    if not 0 <= total <= predictions * (1 + 1e-6):
        raise ReportError("confidence.sum", f"expected 0 to {predictions}")
    return counts, float(total)


def _features(
    value: Any, bins: Mapping[str, tuple[str, ...]], predictions: int
) -> dict[str, FeatureCounts]:
    if not isinstance(value, Mapping):
        raise ReportError("features", "expected an object")
    found: dict[str, FeatureCounts] = {}
    for name, counts in value.items():
        where = f"features.{name}"
        if name not in bins:
            raise ReportError(where, "unknown feature")
        if not isinstance(counts, Mapping):
            raise ReportError(where, "expected an object")
        unknown = sorted(set(counts) - FEATURE_FIELDS)
        if unknown:
            raise ReportError(f"{where}.{unknown[0]}", "unknown field")
        per_bin = _counts(counts.get("bins", {}), f"{where}.bins", bins[name])
        missing = _count(counts.get("missing", 0), f"{where}.missing")
        outside = _count(counts.get("out_of_range", 0), f"{where}.out_of_range")
        _total([*per_bin.values(), missing], predictions, f"{where}.bins")
        if outside > predictions:
            raise ReportError(f"{where}.out_of_range", f"more than the {predictions} predictions")
        found[name] = FeatureCounts(per_bin, missing, outside)
    return found
