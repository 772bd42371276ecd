"""The training profile: what the training data looked like, for drift monitoring.

Numeric features get equal-frequency bins (deciles) of the training data, so each
bin holds about a tenth of the training rows and PSI can be computed exactly from
bin counters. The reference share of each bin is measured on the training data
with the same ``bin_indices`` the server uses, so ties and discrete features are
accounted for exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from vigia import metrics
from vigia.features import FeatureSchema
from vigia.segments import SegmentProfile, segmentable

N_BINS = 10
NUMERIC_BINS: tuple[str, ...] = tuple(str(i) for i in range(N_BINS))
MISSING = -1
T = TypeVar("T")


@dataclass(frozen=True)
class NumericProfile:
    """Decile bin edges (9 inner edges, 10 bins "0".."9") and each bin's training share."""

    edges: tuple[float, ...]
    shares: tuple[float, ...]
    minimum: float | None
    maximum: float | None
    missing_share: float
    _edges: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_edges", np.asarray(self.edges, dtype=np.float64))

    def bin_indices(self, values: np.ndarray) -> np.ndarray:
        array = np.asarray(values, dtype=np.float64)
        indices = np.searchsorted(self._edges, array, side="right")
        indices[np.isnan(array)] = MISSING
        return indices

    def out_of_range(self, values: np.ndarray) -> np.ndarray:
        array = np.asarray(values, dtype=np.float64)
        if self.minimum is None or self.maximum is None:
            return np.zeros(array.shape, dtype=bool)
        with np.errstate(invalid="ignore"):
            return (array < self.minimum) | (array > self.maximum)

    def to_dict(self) -> dict[str, Any]:
        return {
            "edges": list(self.edges),
            "shares": list(self.shares),
            "minimum": self.minimum,
            "maximum": self.maximum,
            "missing_share": self.missing_share,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NumericProfile:
        return cls(
            edges=tuple(float(e) for e in data["edges"]),
            shares=tuple(float(s) for s in data["shares"]),
            minimum=None if data["minimum"] is None else float(data["minimum"]),
            maximum=None if data["maximum"] is None else float(data["maximum"]),
            missing_share=float(data["missing_share"]),
        )


@dataclass(frozen=True)
class CategoricalProfile:
    """Training categories (bins are the category names) and their frequencies."""

    categories: tuple[str, ...]
    shares: tuple[float, ...]
    missing_share: float
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {c: i for i, c in enumerate(self.categories)})

    def bin_indices(self, values: np.ndarray) -> np.ndarray:
        index = self._index
        flat = np.asarray(values, dtype=object).ravel()
        return np.fromiter((index.get(v, MISSING) for v in flat), dtype=np.intp, count=len(flat))

    def to_dict(self) -> dict[str, Any]:
        return {
            "categories": list(self.categories),
            "shares": list(self.shares),
            "missing_share": self.missing_share,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CategoricalProfile:
        return cls(
            categories=tuple(str(c) for c in data["categories"]),
            shares=tuple(float(s) for s in data["shares"]),
            missing_share=float(data["missing_share"]),
        )


@dataclass(frozen=True)
class ConfidenceProfile:
    """Distribution of the max class probability on training or holdout data.

    ``cumulative_shares[i]`` is the share of rows with confidence <= ``buckets[i]``,
    the same ``le`` buckets as the server's confidence histogram.
    """

    buckets: tuple[float, ...]
    cumulative_shares: tuple[float, ...]
    deciles: tuple[float, ...]
    mean: float
    rows: int = 0  # the rows binned (0: a bundle from before the count was kept)

    def to_dict(self) -> dict[str, Any]:
        return {
            "buckets": list(self.buckets),
            "cumulative_shares": list(self.cumulative_shares),
            "deciles": list(self.deciles),
            "mean": self.mean,
            "rows": self.rows,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ConfidenceProfile:
        return cls(
            buckets=tuple(float(b) for b in data["buckets"]),
            cumulative_shares=tuple(float(s) for s in data["cumulative_shares"]),
            deciles=tuple(float(d) for d in data["deciles"]),
            mean=float(data["mean"]),
            rows=int(data.get("rows", 0)),
        )


FeatureProfile = NumericProfile | CategoricalProfile


@dataclass(frozen=True)
class TrainingProfile:
    """Per-feature reference distributions, class priors and confidence distribution.

    For a regressor, the output is binned like a numeric feature: ``prediction`` holds the
    deciles of the training predictions, ``class_priors`` each of those bins' training
    share (bins "0".."9", so the server's per-class counters and the prediction-shift
    rule serve both kinds of model), and ``confidence`` is None."""

    numeric: Mapping[str, NumericProfile]
    categorical: Mapping[str, CategoricalProfile]
    class_priors: Mapping[str, float]
    confidence: ConfidenceProfile | None
    rows: int
    prediction: NumericProfile | None = None
    # Per-value references of each categorical feature with at most MAX_SEGMENT_VALUES
    # categories: what spec.monitoring.segments may name (vigia.segments).
    segments: Mapping[str, SegmentProfile] = field(default_factory=dict)

    def feature(self, name: str) -> FeatureProfile:
        if name in self.numeric:
            return self.numeric[name]
        if name in self.categorical:
            return self.categorical[name]
        raise KeyError(f"no profile for feature {name!r}")

    def bin_indices(self, feature: str, values: np.ndarray) -> np.ndarray:
        """Bin index of each value (``MISSING`` = -1 for NaN/None or, for categoricals,
        a category not seen in training)."""
        return self.feature(feature).bin_indices(values)

    def bin_labels(self, feature: str) -> tuple[str, ...]:
        """The ``bin`` label of each index: "0".."9" for numeric, category names otherwise."""
        profile = self.feature(feature)
        if isinstance(profile, NumericProfile):
            return NUMERIC_BINS
        return profile.categories

    def reference_shares(self, feature: str) -> dict[str, float]:
        """Training share of each bin, among non-missing values; sums to 1."""
        profile = self.feature(feature)
        return dict(zip(self.bin_labels(feature), profile.shares, strict=True))

    def to_dict(self) -> dict[str, Any]:
        return {
            "numeric": {k: v.to_dict() for k, v in self.numeric.items()},
            "categorical": {k: v.to_dict() for k, v in self.categorical.items()},
            "class_priors": dict(self.class_priors),
            "confidence": None if self.confidence is None else self.confidence.to_dict(),
            "rows": self.rows,
            "prediction": None if self.prediction is None else self.prediction.to_dict(),
            "segments": {k: v.to_dict() for k, v in self.segments.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainingProfile:
        return cls(
            numeric={k: NumericProfile.from_dict(v) for k, v in data["numeric"].items()},
            categorical={
                k: CategoricalProfile.from_dict(v) for k, v in data["categorical"].items()
            },
            class_priors={str(k): float(v) for k, v in data["class_priors"].items()},
            confidence=_optional(ConfidenceProfile.from_dict, data.get("confidence")),
            rows=int(data["rows"]),
            prediction=_optional(NumericProfile.from_dict, data.get("prediction")),
            segments={k: SegmentProfile.from_dict(v)
                      for k, v in (data.get("segments") or {}).items()},
        )


def _optional(parse: Callable[[dict[str, Any]], T], data: dict[str, Any] | None) -> T | None:
    return None if data is None else parse(data)


def build_profile(
    X: pd.DataFrame,
    y: pd.Series | np.ndarray,
    proba: np.ndarray,
    *,
    schema: FeatureSchema | None = None,
) -> TrainingProfile:
    """Profile training data ``X``/``y``; ``proba`` are predicted probabilities (any rows)."""
    schema = schema or FeatureSchema.from_frame(X)
    numeric: dict[str, NumericProfile] = {}
    categorical: dict[str, CategoricalProfile] = {}
    for spec in schema.features:
        if spec.kind == "numeric":
            numeric[spec.name] = build_numeric_profile(X[spec.name])
        else:
            categorical[spec.name] = build_categorical_profile(X[spec.name], spec.categories or ())
    profile = TrainingProfile(
        numeric=numeric,
        categorical=categorical,
        class_priors=build_class_priors(y),
        confidence=build_confidence_profile(proba),
        rows=len(X),
    )
    segments = {name: build_segment_profile(X, profile, name, schema.names)
                for name, cat in categorical.items() if segmentable(cat.categories)}
    return replace(profile, segments=segments)


def build_segment_profile(X: pd.DataFrame, profile: TrainingProfile, segment: str,
                          features: Sequence[str]) -> SegmentProfile:
    """The training reference within each value of ``segment``: per value, every feature's
    share of rows in each of the population's bins (missing values left out)."""
    values = profile.categorical[segment].categories
    column = X[segment].astype(object).where(X[segment].notna(), None).astype(str).to_numpy()
    rows: dict[str, int] = {}
    shares: dict[str, dict[str, dict[str, float]]] = {}
    for value in values:
        inside = column == value
        rows[value] = int(inside.sum())
        shares[value] = {}
        for feature in features:
            labels = profile.bin_labels(feature)
            index = profile.bin_indices(feature, X[feature].to_numpy()[inside])
            counts = np.bincount(index[index >= 0], minlength=len(labels))
            total = counts.sum()
            shares[value][feature] = {
                b: float(c) / float(total) if total else 0.0
                for b, c in zip(labels, counts.tolist(), strict=True)}
    return SegmentProfile(tuple(values), rows, shares)


def build_regression_profile(
    X: pd.DataFrame, predictions: np.ndarray, *, schema: FeatureSchema | None = None
) -> TrainingProfile:
    """Profile a regressor's training data ``X`` and its predictions on those rows."""
    schema = schema or FeatureSchema.from_frame(X)
    features = build_profile(X, np.zeros(len(X)), np.ones((len(X), 1)), schema=schema)
    output = build_numeric_profile(pd.Series(np.asarray(predictions, dtype=np.float64)))
    return TrainingProfile(
        numeric=features.numeric,
        categorical=features.categorical,
        class_priors=dict(zip(NUMERIC_BINS, output.shares, strict=True)),
        confidence=None,
        rows=len(X),
        prediction=output,
    )


def build_numeric_profile(column: pd.Series) -> NumericProfile:
    values = column.to_numpy(dtype=np.float64, na_value=np.nan)
    present = values[~np.isnan(values)]
    if len(present) == 0:
        return NumericProfile((0.0,) * (N_BINS - 1), _uniform(N_BINS), None, None, 1.0)
    inner = np.quantile(present, np.arange(1, N_BINS) / N_BINS)
    profile = NumericProfile(
        edges=tuple(float(e) for e in inner),
        shares=_uniform(N_BINS),
        minimum=float(present.min()),
        maximum=float(present.max()),
        missing_share=1.0 - len(present) / len(values),
    )
    counts = np.bincount(profile.bin_indices(present), minlength=N_BINS)
    shares = tuple(float(c) for c in counts / counts.sum())
    return NumericProfile(
        profile.edges, shares, profile.minimum, profile.maximum, profile.missing_share
    )


def build_categorical_profile(column: pd.Series, categories: tuple[str, ...]) -> CategoricalProfile:
    present = column.dropna().astype(str)
    counts = present.value_counts()
    total = len(present)
    shares = tuple(float(counts.get(c, 0)) / total if total else 0.0 for c in categories)
    missing = 1.0 - total / len(column) if len(column) else 0.0
    return CategoricalProfile(tuple(categories), shares, missing)


def build_class_priors(y: pd.Series | np.ndarray) -> dict[str, float]:
    labels, counts = np.unique(np.asarray(y).astype(str), return_counts=True)
    total = int(counts.sum())
    return {str(label): int(c) / total for label, c in zip(labels, counts, strict=True)}


def build_confidence_profile(proba: np.ndarray) -> ConfidenceProfile:
    confidence = np.asarray(proba, dtype=np.float64).max(axis=1)
    buckets = tuple(float(b) for b in metrics.CONFIDENCE_BUCKETS)
    cumulative = tuple(float(np.mean(confidence <= b)) for b in buckets)
    deciles = tuple(float(d) for d in np.quantile(confidence, np.arange(1, N_BINS) / N_BINS))
    return ConfidenceProfile(buckets, cumulative, deciles, float(confidence.mean()),
                             rows=len(confidence))


def _uniform(n: int) -> tuple[float, ...]:
    return (1.0 / n,) * n
