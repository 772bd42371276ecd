"""The operator's own /metrics: what monitoring measured and decided, per ModelDeployment.

Gauges are labelled (namespace, model) like the servers' series, so a dashboard can put the
operator's verdict beside the raw signals. A deleted ModelDeployment's series are removed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import Any

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    start_http_server,
)

from vigia import metrics
from vigia_operator.decide.measurements import ModelKey
from vigia_operator.decide.monitoring import MonitoringVerdict
from vigia_operator.prometheus.collect import QueryStats

_KEY = [metrics.LABEL_NAMESPACE, metrics.LABEL_MODEL]
TICK_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_STATUS_VALUE = {"True": 1.0, "False": 0.0, "Unknown": -1.0}


class OperatorMetrics:
    """prometheus_client objects of the operator; one instance per process."""

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.drift = Gauge(metrics.OPERATOR_DRIFT, "Drift score per feature (stable track).",
                           [*_KEY, metrics.LABEL_FEATURE, metrics.LABEL_STATISTIC],
                           registry=registry)
        self.accuracy = Gauge(metrics.OPERATOR_ACCURACY, "Accuracy from feedback (stable).",
                              _KEY, registry=registry)
        self.confidence = Gauge(metrics.OPERATOR_CONFIDENCE, "Mean confidence (stable).",
                                _KEY, registry=registry)
        self.kpi = Gauge(metrics.OPERATOR_KPI, "Business KPI values.",
                         [*_KEY, metrics.LABEL_KPI], registry=registry)
        self.cost = Gauge(metrics.OPERATOR_COST,
                          "Expected cost of errors per 1,000 predictions (stable), in its unit.",
                          [*_KEY, metrics.LABEL_UNIT], registry=registry)
        self.state = Gauge(metrics.OPERATOR_STATE,
                           "Monitoring conditions: 1 True, 0 False, -1 Unknown.",
                           [*_KEY, metrics.LABEL_CONDITION], registry=registry)
        self.decisions = Counter(metrics.OPERATOR_DECISIONS,
                                 "Monitoring condition transitions, by condition and status.",
                                 [metrics.LABEL_CONDITION, metrics.LABEL_DECISION],
                                 registry=registry)
        self.tick_seconds = Histogram(metrics.OPERATOR_TICK_SECONDS,
                                      "Duration of one monitoring evaluation (every model"
                                      " due, at once).",
                                      buckets=TICK_BUCKETS, registry=registry)
        self.queries = Counter(metrics.OPERATOR_QUERIES, "Prometheus queries, by signal.",
                               [metrics.LABEL_SIGNAL], registry=registry)
        self.query_errors = Counter(metrics.OPERATOR_QUERY_ERRORS,
                                    "Failed Prometheus queries, by signal.",
                                    [metrics.LABEL_SIGNAL], registry=registry)
        self._published: dict[ModelKey, dict[str, set[tuple[str, ...]]]] = {}
        self._statuses: dict[tuple[ModelKey, str], str] = {}

    def observe_tick(self, seconds: float, stats: QueryStats) -> None:
        self.tick_seconds.observe(seconds)
        for signal, count in stats.counts.items():
            self.queries.labels(signal).inc(count)
        for signal, count in stats.errors.items():
            self.query_errors.labels(signal).inc(count)

    def publish(self, key: ModelKey, verdict: MonitoringVerdict) -> None:
        """Set one model's gauges from its verdict; count condition transitions."""
        section = verdict.section
        drift: dict[str, Any] = section.get("drift") or {}
        children: dict[str, set[tuple[str, ...]]] = {}
        for feature, score in (drift.get("scores") or {}).items():
            labels = (*key, feature, str(drift.get("statistic", "")))
            self.drift.labels(*labels).set(score)
            children.setdefault("drift", set()).add(labels)
        for gauge, name, value in (
            (self.accuracy, "accuracy", section.get("accuracy")),
            (self.confidence, "confidence", (section.get("confidence") or {}).get("mean")),
        ):
            if value is not None:
                gauge.labels(*key).set(value)
                children.setdefault(name, set()).add(key)
        cost: dict[str, Any] = section.get("cost") or {}
        if cost.get("value") is not None:
            self.cost.labels(*key, str(cost.get("unit", ""))).set(cost["value"])
            children.setdefault("cost", set()).add((*key, str(cost.get("unit", ""))))
        for row in section.get("kpis") or []:
            if "value" in row:
                self.kpi.labels(*key, row["name"]).set(row["value"])
                children.setdefault("kpi", set()).add((*key, row["name"]))
        for finding in verdict.conditions:
            self.state.labels(*key, finding.type).set(_STATUS_VALUE.get(finding.status, -1.0))
            children.setdefault("state", set()).add((*key, finding.type))
            previous = self._statuses.get((key, finding.type))
            if previous is not None and previous != finding.status:
                self.decisions.labels(finding.type, finding.status).inc()
            self._statuses[(key, finding.type)] = finding.status
        old = self._published.get(key, {})
        self._remove({name: labelsets - children.get(name, set())
                      for name, labelsets in old.items()})
        self._published[key] = children

    def forget(self, key: ModelKey) -> None:
        """Remove one deleted model's series."""
        self._remove(self._published.pop(key, {}))
        for k in [k for k in self._statuses if k[0] == key]:
            del self._statuses[k]

    def _remove(self, children: dict[str, set[tuple[str, ...]]]) -> None:
        gauges = {"drift": self.drift, "accuracy": self.accuracy,
                  "confidence": self.confidence, "kpi": self.kpi, "state": self.state,
                  "cost": self.cost}
        for name, labelsets in children.items():
            for labels in labelsets:
                with contextlib.suppress(KeyError):
                    gauges[name].remove(*labels)

    def retain(self, keys: Iterable[ModelKey]) -> None:
        """Forget every model not in ``keys`` (deleted since the last tick)."""
        alive = set(keys)
        for key in [k for k in self._published if k not in alive]:
            self.forget(key)


def serve_metrics(port: int) -> OperatorMetrics | None:
    """The operator's /metrics on ``port`` (0: not served, None)."""
    if not port:
        return None
    exported = OperatorMetrics()
    start_http_server(port)
    return exported
