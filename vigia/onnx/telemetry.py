"""The device runner's telemetry: aggregates of its predictions, sent opt-in.

``Aggregates`` counts checked input columns on the training bins the manifest carries
(the same bins the server counts on), predicted classes, the confidence histogram and
feedback outcomes; ``report`` is the JSON the server's POST /telemetry accepts
(vigia.telemetry). No input value is kept: only counts and the sum of confidences.
numpy and the standard library only, like the runner.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Mapping
from typing import Any

import numpy as np

from vigia import metrics
from vigia.onnx.manifest import Manifest
from vigia.telemetry import CONFIDENCE_SLOTS

SEND_TIMEOUT_S = 10.0


class _Bins:
    """One feature's training bins: index per value (-1 missing) and out-of-range."""

    def __init__(self, spec: Mapping[str, Any]) -> None:
        self.categories: list[str] | None = spec.get("categories")
        self.edges = np.asarray(spec.get("edges") or [], dtype=np.float64)
        self.minimum = spec.get("minimum")
        self.maximum = spec.get("maximum")

    @property
    def labels(self) -> list[str]:
        if self.categories is not None:
            return list(self.categories)
        return [str(i) for i in range(len(self.edges) + 1)]

    def indices(self, values: np.ndarray) -> np.ndarray:
        if self.categories is not None:
            index = {c: i for i, c in enumerate(self.categories)}
            return np.array([index.get(v, -1) for v in values.tolist()], dtype=np.intp)
        array = np.asarray(values, dtype=np.float64)
        found = np.searchsorted(self.edges, array, side="right")
        found[np.isnan(array)] = -1
        return found

    def outside(self, values: np.ndarray) -> int:
        if self.categories is not None or self.minimum is None or self.maximum is None:
            return 0
        array = np.asarray(values, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            return int(np.count_nonzero((array < self.minimum) | (array > self.maximum)))


class Aggregates:
    """Counts since the last report, for one model version; thread-safe."""

    def __init__(self, manifest: Manifest, source: str = metrics.SOURCE_EDGE) -> None:
        if source not in metrics.DEVICE_SOURCES:
            raise ValueError(f"source: expected one of {', '.join(metrics.DEVICE_SOURCES)}")
        self.manifest = manifest
        self.source = source
        self._bins = {name: _Bins(spec) for name, spec in manifest.bins.items()}
        self._lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self.predictions = 0
        self.classes = np.zeros(len(self.manifest.classes), dtype=np.int64)
        self.buckets = np.zeros(CONFIDENCE_SLOTS, dtype=np.int64)
        self.confidence_sum = 0.0
        self.bins = {n: np.zeros(len(b.labels) + 1, dtype=np.int64) for n, b in self._bins.items()}
        self.outside = dict.fromkeys(self._bins, 0)
        self.feedback = dict.fromkeys((metrics.OUTCOME_CORRECT, metrics.OUTCOME_INCORRECT), 0)

    def observe(self, columns: Mapping[str, np.ndarray], proba: np.ndarray) -> None:
        """Count one batch: checked columns (as the runner checks them) and probabilities."""
        confidence = proba.max(axis=1)
        slots = np.searchsorted(np.asarray(metrics.CONFIDENCE_BUCKETS), confidence, side="left")
        with self._lock:
            self.predictions += len(proba)
            self.classes += np.bincount(proba.argmax(axis=1), minlength=len(self.classes))
            self.buckets += np.bincount(slots, minlength=CONFIDENCE_SLOTS)
            self.confidence_sum += float(confidence.sum())
            for name, bins in self._bins.items():
                indices = bins.indices(columns[name]) + 1
                self.bins[name] += np.bincount(indices, minlength=len(bins.labels) + 1)
                self.outside[name] += bins.outside(columns[name])

    def observe_feedback(self, correct: bool) -> None:
        outcome = metrics.OUTCOME_CORRECT if correct else metrics.OUTCOME_INCORRECT
        with self._lock:
            self.feedback[outcome] += 1

    def take_report(self) -> dict[str, Any]:
        """The report of everything counted so far, and a fresh start."""
        with self._lock:
            report = self._report()
            self._reset()
        return report

    def _report(self) -> dict[str, Any]:
        features = {}
        for name, bins in self._bins.items():
            counts = self.bins[name].tolist()
            features[name] = {
                "bins": {label: c for label, c in zip(bins.labels, counts[1:], strict=True) if c},
                "missing": counts[0],
                "out_of_range": self.outside[name],
            }
        return {
            "model": self.manifest.name,
            "version": self.manifest.version,
            "source": self.source,
            "predictions": self.predictions,
            "classes": {c: n for c, n in zip(self.manifest.classes, self.classes.tolist(),
                                             strict=True) if n},
            "confidence": {"buckets": self.buckets.tolist(), "sum": self.confidence_sum},
            "features": features,
            "feedback": {k: v for k, v in self.feedback.items() if v},
        }


def send_report(url: str, report: Mapping[str, Any], timeout_s: float = SEND_TIMEOUT_S) -> int:
    """POST one report; the HTTP status (a refusal raises urllib's HTTPError)."""
    body = json.dumps(report).encode()
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout_s) as answer:
        return int(answer.status)
