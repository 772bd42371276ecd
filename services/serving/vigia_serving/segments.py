"""The server's part of segments (vigia.segments): input bins counted within each value of
every segment feature, and each value's training reference exported as gauges.

A segment feature the bundle's profile holds no segment reference for (not categorical, or
more than vigia.segments.MAX_SEGMENT_VALUES values) is refused: the model does not load.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Gauge

from vigia import metrics
from vigia.profile import TrainingProfile
from vigia.segments import check_segments


class SegmentCounters:
    """Bound counter children: segment feature -> value index -> feature -> bin children."""

    def __init__(self, profile: TrainingProfile, features: Sequence[str],
                 segments: Sequence[str], base: tuple[str, ...],
                 registry: CollectorRegistry) -> None:
        check_segments(segments, profile.segments,
                       {n: p.categories for n, p in profile.categorical.items()})
        labels = [*metrics.SERVER_LABELS, metrics.LABEL_SEGMENT, metrics.LABEL_SEGMENT_VALUE,
                  metrics.LABEL_FEATURE, metrics.LABEL_BIN]
        bins = Counter(metrics.SEGMENT_FEATURE_BIN,
                       "Input values per bin within one value of a segment feature.",
                       labels, registry=registry)
        reference = Gauge(metrics.SEGMENT_REFERENCE,
                          "Share of each bin within one value of a segment feature in the "
                          "training data.", labels, registry=registry, multiprocess_mode="max")
        self._feedback = Counter(
            metrics.SEGMENT_FEEDBACK,
            "Feedback by outcome, under the segment value of the prediction it labels (from "
            "its logged inputs; none when they were not logged).",
            [*metrics.SERVER_LABELS, metrics.LABEL_SEGMENT, metrics.LABEL_SEGMENT_VALUE,
             metrics.LABEL_OUTCOME], registry=registry)
        self._values = {s: frozenset(profile.segments[s].values) for s in segments}
        for segment, values in self._values.items():
            for value in values:
                for outcome in (metrics.OUTCOME_CORRECT, metrics.OUTCOME_INCORRECT):
                    self._feedback.labels(*base, segment, value, outcome).inc(0)
        self._profile = profile
        self._features = tuple(features)
        self._children: dict[str, list[dict[str, list[Counter]]]] = {}
        for segment in segments:
            seg = profile.segments[segment]
            per_value = []
            for value in seg.values:
                per_feature = {}
                for feature in self._features:
                    shares = seg.shares[value][feature]
                    children = []
                    for b in profile.bin_labels(feature):
                        key = (*base, segment, value, feature, b)
                        reference.labels(*key).set(shares.get(b, 0.0))
                        children.append(bins.labels(*key))
                    per_feature[feature] = children
                per_value.append(per_feature)
            self._children[segment] = per_value

    def observe(self, columns: Mapping[str, np.ndarray]) -> None:
        for segment, per_value in self._children.items():
            which = self._profile.bin_indices(segment, columns[segment])
            for k, per_feature in enumerate(per_value):
                inside = which == k
                if not inside.any():
                    continue
                for feature, children in per_feature.items():
                    index = self._profile.bin_indices(feature, columns[feature][inside])
                    counts = np.bincount(index[index >= 0], minlength=len(children))
                    for child, count in zip(children, counts.tolist(), strict=True):
                        if count:
                            child.inc(count)

    def observe_feedback(self, made_by: tuple[str, ...], features: Mapping[str, Any] | None,
                         correct: bool) -> None:
        """Count one feedback under each segment value of the prediction it labels."""
        if not features:
            return
        outcome = metrics.OUTCOME_CORRECT if correct else metrics.OUTCOME_INCORRECT
        for segment, values in self._values.items():
            value = features.get(segment)
            if isinstance(value, str) and value in values:
                self._feedback.labels(*made_by, segment, value, outcome).inc()
