"""Collect one tick's signals for every monitored ModelDeployment from Prometheus.

One query per signal and distinct window — the same few queries for 1 or 1,000 models —
run a few at a time, then split by (namespace, model, track, version). Only the KPIs, which are each
model's own PromQL, cost one query each: each confined to its model's namespace (confine.py),
bounded in time and size (core/config.py KPI_*), and failing alone: a KPI refused, slow or
too large is an error of that KPI only, never of the tick.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Container, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from vigia import metrics
from vigia_operator.core import config
from vigia_operator.decide.measurements import ModelKey, ModelSignals, TickSignals
from vigia_operator.prometheus.client import (
    PrometheusError,
    QueryBounds,
    QueryClient,
    QueryRejected,
    Sample,
)
from vigia_operator.prometheus.confine import Refused, confine
from vigia_operator.prometheus.queries import (
    INSTANT_SIGNALS,
    RULE_WINDOWS,
    RULES_EVALUATED,
    Query,
    Signal,
    queries_for,
)
from vigia_operator.view.monitoring import KPI, MonitoringSpec


@dataclass(frozen=True)
class MonitoredModel:
    key: ModelKey  # (namespace, name)
    spec: MonitoringSpec


@dataclass
class QueryStats:
    """What the tick asked Prometheus, for the operator's own metrics."""

    seconds: dict[str, float] = field(default_factory=dict)  # signal -> summed query time
    counts: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)

    def record(self, signal: str, seconds: float, failed: bool) -> None:
        self.seconds[signal] = self.seconds.get(signal, 0.0) + seconds
        self.counts[signal] = self.counts.get(signal, 0) + 1
        if failed:
            self.errors[signal] = self.errors.get(signal, 0) + 1


KPI_SIGNAL = "kpi"
KPI_BOUNDS = QueryBounds(
    timeout_s=config.KPI_TIMEOUT_S,
    max_series=config.KPI_MAX_SERIES,
    max_bytes=config.KPI_MAX_RESPONSE_BYTES,
    grace_s=config.KPI_TIMEOUT_GRACE_S,
)


class PrometheusSignals:
    """The monitoring SignalProvider: ``collect(models, now)`` -> TickSignals."""

    def __init__(
        self,
        client: QueryClient,
        *,
        parallel: int = 4,
        rule_windows: frozenset[str] = RULE_WINDOWS,
        kpi_bounds: QueryBounds = KPI_BOUNDS,
    ) -> None:
        self.client = client
        self.parallel = parallel
        self.rule_windows = rule_windows
        self.kpi_bounds = kpi_bounds
        self.last_stats = QueryStats()

    def collect(self, models: Iterable[MonitoredModel], now: float) -> TickSignals:
        monitored = [m for m in models if m.spec.enabled]
        stats = QueryStats()
        self.last_stats = stats
        tick = TickSignals()
        if not monitored:
            return tick
        by_window: dict[str, set[ModelKey]] = {}
        for m in monitored:
            by_window.setdefault(m.spec.window, set()).add(m.key)
        everyone = {m.key for m in monitored}
        jobs: list[tuple[Callable[[], list[Sample]], Query | tuple[ModelKey, KPI]]] = []
        for q in queries_for(set(by_window), self.rule_windows):
            jobs.append((self._runner(q.promql, q.signal, now, stats), q))
        for m in monitored:
            for index, kpi in enumerate(m.spec.kpis):
                try:
                    promql = confine(kpi.query, m.key[0])
                except Refused as exc:
                    tick.of_model(m.key).kpi_errors[kpi.name] = (
                        f"spec.monitoring.kpis[{index}].query refused: {exc}")
                    continue
                jobs.append((self._runner(promql, KPI_SIGNAL, now, stats, self.kpi_bounds),
                             (m.key, kpi)))
        with ThreadPoolExecutor(max_workers=self.parallel) as pool:
            futures = [(pool.submit(run), what) for run, what in jobs]
            for future, what in futures:
                try:
                    samples = future.result()
                except PrometheusError as exc:
                    if isinstance(what, tuple):  # a KPI: its own error, not the tick's
                        tick.of_model(what[0]).kpi_errors[what[1].name] = str(exc)
                    elif isinstance(exc, QueryRejected):
                        tick.unavailable = f"Prometheus refused the {what.signal} query: {exc}"
                    else:
                        tick.unavailable = str(exc)
                    continue
                if isinstance(what, tuple):
                    _file_kpi(tick.of_model(what[0]), what[1], samples)
                else:
                    wanted = everyone if what.signal in INSTANT_SIGNALS else by_window[what.window]
                    add_samples(tick.models, what.signal, samples, wanted)
        for m in monitored:
            if m.spec.window in self.rule_windows and m.key in tick.models:
                for track in tick.models[m.key].tracks.values():
                    track.from_rules = True
        tick.queries = sum(stats.counts.values())
        tick.query_errors = sum(stats.errors.values())
        return tick

    def _runner(
        self, promql: str, signal: str, now: float, stats: QueryStats,
        bounds: QueryBounds | None = None,
    ) -> Callable[[], list[Sample]]:
        def run() -> list[Sample]:
            started = time.perf_counter()
            failed = True
            try:
                samples = self.client.query(promql, now, bounds)
                failed = False
                return samples
            finally:
                stats.record(signal, time.perf_counter() - started, failed)

        return run


def _file_kpi(model: ModelSignals, kpi: KPI, samples: list[Sample]) -> None:
    if len(samples) != 1:
        model.kpi_errors[kpi.name] = f"the query returned {len(samples)} samples, expected one"
        return
    value = samples[0].value
    if math.isnan(value) or math.isinf(value):
        model.kpi_errors[kpi.name] = f"the query returned {value}"
        return
    model.kpis[kpi.name] = value


_PER_FEATURE: dict[str, str] = {
    Signal.FEATURE_ROWS: "feature_rows",
    Signal.FEATURE_PSI: "feature_psi",
    Signal.FEATURE_JENSEN_SHANNON: "feature_jensen_shannon",
}
_PER_BOUND: dict[str, str] = {  # by histogram bucket bound (le)
    Signal.CONFIDENCE_BELOW: "confidence_below",
    Signal.CONFIDENCE_REFERENCE: "confidence_reference",
}
_PER_CLASS: dict[str, str] = {
    Signal.CLASS_RECALL: "class_recall",
    Signal.CLASS_PRECISION: "class_precision",
}
_PER_SEGMENT: dict[str, str] = {
    Signal.SEGMENT_ROWS: "segment_rows",
    Signal.SEGMENT_PSI: "segment_psi",
    Signal.SEGMENT_JENSEN_SHANNON: "segment_jensen_shannon",
}
_PER_SEGMENT_VALUE: dict[str, str] = {
    Signal.SEGMENT_FEEDBACK: "segment_feedback",
    Signal.SEGMENT_ACCURACY: "segment_accuracy",
}
_SCALAR: dict[str, str] = {
    Signal.PREDICTIONS: "predictions",
    Signal.PREDICTION_SHIFT: "prediction_shift",
    Signal.FEEDBACK: "feedback",
    Signal.ACCURACY: "accuracy",
    Signal.FEEDBACK_VALUES: "feedback_values",
    Signal.MAE: "mae",
    Signal.RMSE: "rmse",
    Signal.BEYOND_TOLERANCE: "beyond_tolerance",
    Signal.CONFIDENCE_MEAN: "confidence_mean",
    Signal.ESTIMATED_ACCURACY: "estimated_accuracy",
    Signal.CALIBRATION_ERROR: "calibration_error",
    Signal.LAST_SCRAPE: "last_scrape",
    Signal.LOG_UP: "log_up",
    Signal.LOG_BUFFERED: "log_buffered",
    Signal.CONFIDENCE_REFERENCE_ROWS: "confidence_reference_rows",
    RULES_EVALUATED: "rules_evaluated",
}


def add_samples(
    into: dict[ModelKey, ModelSignals],
    signal: str,
    samples: Iterable[Sample],
    wanted: Container[ModelKey] | None = None,
) -> None:
    """File ``samples`` of one signal under their model, track and version.

    ``wanted`` holds the models whose spec asks for this query's window; samples of other
    models (evaluated over another window by another query) are left out. NaN is "no data".
    """
    for sample in samples:
        labels = sample.labels
        try:
            key = (labels[metrics.LABEL_NAMESPACE], labels[metrics.LABEL_MODEL])
            track_name = labels[metrics.LABEL_TRACK]
            version = labels[metrics.LABEL_VERSION]
        except KeyError:
            continue  # not a Vigía model-server series
        if wanted is not None and key not in wanted:
            continue
        if math.isnan(sample.value):
            continue
        track = into.setdefault(key, ModelSignals()).track(track_name, version)
        if signal in _PER_FEATURE:
            per_feature: dict[str, float] = getattr(track, _PER_FEATURE[signal])
            per_feature[labels.get(metrics.LABEL_FEATURE, "")] = sample.value
        elif signal in _PER_CLASS:
            per_class: dict[str, float] = getattr(track, _PER_CLASS[signal])
            per_class[labels.get(metrics.LABEL_CLASS, "")] = sample.value
        elif signal == Signal.CONFUSION:
            cell = (labels.get(metrics.LABEL_ACTUAL, ""), labels.get(metrics.LABEL_PREDICTED, ""))
            track.confusion[cell] = sample.value
        elif signal in _PER_SEGMENT:
            per_segment: dict[tuple[str, str, str], float] = getattr(track, _PER_SEGMENT[signal])
            per_segment[(labels.get(metrics.LABEL_SEGMENT, ""),
                         labels.get(metrics.LABEL_SEGMENT_VALUE, ""),
                         labels.get(metrics.LABEL_FEATURE, ""))] = sample.value
        elif signal in _PER_SEGMENT_VALUE:
            per_value: dict[tuple[str, str], float] = getattr(track, _PER_SEGMENT_VALUE[signal])
            per_value[(labels.get(metrics.LABEL_SEGMENT, ""),
                       labels.get(metrics.LABEL_SEGMENT_VALUE, ""))] = sample.value
        elif signal in _PER_BOUND:
            le = float(labels.get("le", "nan"))
            if not math.isinf(le) and not math.isnan(le):
                per_bound: dict[float, float] = getattr(track, _PER_BOUND[signal])
                per_bound[le] = sample.value
        else:
            setattr(track, _SCALAR[signal], sample.value)
