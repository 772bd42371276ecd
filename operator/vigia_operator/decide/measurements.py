"""What one tick measured for one model, per track: the monitoring decision's input."""

from __future__ import annotations

from dataclasses import dataclass, field

ModelKey = tuple[str, str]  # namespace, ModelDeployment name
TrackKey = tuple[str, str]  # track, model version: a version is judged on its own series
SegmentKey = tuple[str, str, str]  # segment feature, its value, input feature


@dataclass
class TrackSignals:
    """Everything measured for one track of one ModelDeployment over one window."""

    feature_rows: dict[str, float] = field(default_factory=dict)
    feature_psi: dict[str, float] = field(default_factory=dict)
    feature_jensen_shannon: dict[str, float] = field(default_factory=dict)
    predictions: float | None = None
    prediction_shift: float | None = None
    feedback: float | None = None
    accuracy: float | None = None
    # A regressor's (None for a classifier): feedback values, MAE and RMSE in the model's
    # units, the share off by more than the tolerance.
    feedback_values: float | None = None
    mae: float | None = None
    rmse: float | None = None
    beyond_tolerance: float | None = None
    confidence_mean: float | None = None
    confidence_below: dict[float, float] = field(default_factory=dict)  # le -> share <= le
    # The version's confidence on its holdout, binned at bundle time (le -> share <= le),
    # and the holdout rows behind it (None: servers or a bundle without it).
    confidence_reference: dict[float, float] = field(default_factory=dict)
    confidence_reference_rows: float | None = None
    # From the confusion counters: labelled predictions per (actual, predicted) class, and
    # per class its recall (by true class) and precision (by predicted class).
    confusion: dict[tuple[str, str], float] = field(default_factory=dict)
    class_recall: dict[str, float] = field(default_factory=dict)
    class_precision: dict[str, float] = field(default_factory=dict)
    # Without labels (vigia.calibration): the expected accuracy (None: the version's bundle
    # has no estimate) and the bundle's calibration error (None: no calibration check).
    estimated_accuracy: float | None = None
    calibration_error: float | None = None
    # Segments (vigia.segments): (segment feature, its value, input feature) -> rows, score.
    segment_rows: dict[SegmentKey, float] = field(default_factory=dict)
    segment_psi: dict[SegmentKey, float] = field(default_factory=dict)
    segment_jensen_shannon: dict[SegmentKey, float] = field(default_factory=dict)
    # (segment feature, its value) -> feedback labels, accuracy.
    segment_feedback: dict[tuple[str, str], float] = field(default_factory=dict)
    segment_accuracy: dict[tuple[str, str], float] = field(default_factory=dict)
    last_scrape: float | None = None  # Unix time of the newest sample Prometheus holds
    # The prediction log: 1 when every replica can write it, 0 when one cannot; None: no
    # such series (a server older than the metric).
    log_up: float | None = None
    log_buffered: float | None = None  # rows waiting in the replicas' memory
    # Read from recording rules: when they last ran (None: their series are missing).
    from_rules: bool = False
    rules_evaluated: float | None = None

    def confidence_share_below(self, threshold: float) -> float | None:
        """Share of predictions with confidence below ``threshold``, interpolated linearly
        between histogram bucket bounds (as histogram_quantile does)."""
        if not self.confidence_below:
            return None
        lower_le, lower_share = 0.0, 0.0
        for le, share in sorted(self.confidence_below.items()):
            if threshold <= le:
                if le == lower_le:
                    return share
                fraction = (threshold - lower_le) / (le - lower_le)
                return lower_share + fraction * (share - lower_share)
            lower_le, lower_share = le, share
        return lower_share


@dataclass
class ModelSignals:
    """One ModelDeployment's signals, per track and version, plus its KPI values."""

    tracks: dict[TrackKey, TrackSignals] = field(default_factory=dict)
    kpis: dict[str, float] = field(default_factory=dict)
    kpi_errors: dict[str, str] = field(default_factory=dict)

    def track(self, name: str, version: str) -> TrackSignals:
        return self.tracks.setdefault((name, version), TrackSignals())

    def versions(self, name: str) -> dict[str, TrackSignals]:
        """The versions track ``name`` has series of, each with its signals."""
        return {version: signals for (track, version), signals in self.tracks.items()
                if track == name}


@dataclass
class TickSignals:
    """Every model's signals from one tick, or why there are none."""

    models: dict[ModelKey, ModelSignals] = field(default_factory=dict)
    unavailable: str | None = None  # Prometheus could not be asked: decide nothing
    queries: int = 0
    query_errors: int = 0

    def of(self, key: ModelKey) -> ModelSignals | None:
        return self.models.get(key)

    def of_model(self, key: ModelKey) -> ModelSignals:
        return self.models.setdefault(key, ModelSignals())
