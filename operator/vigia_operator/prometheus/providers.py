"""The tick's collection step: what a SignalProvider is, and the ones Prometheus feeds.

One batched collection per tick for every ModelDeployment: monitoring's signals and the
canaries' measurements, each filed under its own key of ``Signals.values``. Without
VIGIA_OPERATOR_PROMETHEUS_URL every tick collects nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from typing import Protocol

from vigia_operator.core.clock import iso_from_unix
from vigia_operator.core.config import OperatorSettings
from vigia_operator.core.types import (
    CANARY,
    CANARY_ERROR,
    MONITORING,
    MONITORING_AT,
    ModelRef,
    Signals,
)
from vigia_operator.prometheus.canary_queries import CanarySignals, queries_for
from vigia_operator.prometheus.client import PrometheusClient, QueryClient
from vigia_operator.prometheus.collect import MonitoredModel, PrometheusSignals
from vigia_operator.prometheus.exporter import OperatorMetrics
from vigia_operator.view import ModelDeploymentView


class SignalProvider(Protocol):
    async def collect(self, models: Sequence[ModelDeploymentView],
                      monitored: Sequence[ModelDeploymentView],
                      at: float) -> Mapping[ModelRef, Signals]:
        """Measure every model at once (batched: a query per signal, not per model);
        ``monitored``: those of them whose monitoring interval is due this tick; ``at``: the
        tick's Unix time, which the queries are evaluated at."""
        ...


class NoSignals:
    """Monitoring is off: nothing is collected."""

    async def collect(self, models: Sequence[ModelDeploymentView],
                      monitored: Sequence[ModelDeploymentView],
                      at: float) -> Mapping[ModelRef, Signals]:
        return {}


class MonitoringProvider:
    """Monitoring's signals (drift, accuracy, confidence, KPIs) for every model at once."""

    def __init__(self, client: QueryClient, metrics: OperatorMetrics | None = None) -> None:
        self._signals = PrometheusSignals(client)
        self._metrics = metrics

    async def collect(self, models: Sequence[ModelDeploymentView],
                      monitored: Sequence[ModelDeploymentView],
                      at: float) -> Mapping[ModelRef, Signals]:
        if self._metrics is not None:  # a deleted model's gauges go
            self._metrics.retain((m.namespace, m.name) for m in models)
        due = [MonitoredModel((m.namespace, m.name), m.monitoring) for m in monitored]
        if not due:
            return {}
        started = time.perf_counter()
        tick = await asyncio.to_thread(self._signals.collect, due, at)
        if self._metrics is not None:
            self._metrics.observe_tick(time.perf_counter() - started, self._signals.last_stats)
        stamp = iso_from_unix(at)
        return {
            ModelRef(*m.key): Signals(stamp, values={MONITORING: tick.of(m.key), MONITORING_AT: at},
                                      error=tick.unavailable)
            for m in due
        }


def window_of(md: ModelDeploymentView) -> str | None:
    if md.rollout is None:
        return None
    return f"{max(1, round(md.rollout.analysis.interval_s))}s"


class CanaryProvider:
    """The canary queries (canary_queries.py) for every model at once, one query per signal
    and distinct analysis interval; the window of each is spec.rollout.analysis.interval."""

    def __init__(self, client: QueryClient) -> None:
        self.client = client

    async def collect(self, models: Sequence[ModelDeploymentView],
                      monitored: Sequence[ModelDeploymentView],
                      at: float) -> Mapping[ModelRef, Signals]:
        by_window: dict[str, list[ModelDeploymentView]] = {}
        for md in models:
            window = window_of(md)
            if window is not None:
                by_window.setdefault(window, []).append(md)
        stamp = iso_from_unix(at)
        out: dict[ModelRef, Signals] = {}
        for window, views in by_window.items():
            try:
                signals = await asyncio.to_thread(self._collect, window, at)
            except Exception as error:  # Prometheus down or refusing: a state, never a crash
                for md in views:
                    out[ModelRef.of(md)] = Signals(stamp, values={CANARY_ERROR: str(error)})
                continue
            for md in views:
                tracks = signals.tracks.get((md.namespace, md.name), {})
                out[ModelRef.of(md)] = Signals(stamp, values={CANARY: tracks})
        return out

    def _collect(self, window: str, at: float) -> CanarySignals:
        signals = CanarySignals()
        for query in queries_for([window]):
            signals.add(query.signal, self.client.query(query.promql, at))
        return signals


class CombinedProvider:
    """Several providers' signals for each model, merged: values side by side, the first
    error kept."""

    def __init__(self, *providers: SignalProvider) -> None:
        self.providers = providers

    async def collect(self, models: Sequence[ModelDeploymentView],
                      monitored: Sequence[ModelDeploymentView],
                      at: float) -> Mapping[ModelRef, Signals]:
        results = await asyncio.gather(*(p.collect(models, monitored, at)
                                         for p in self.providers))
        merged: dict[ModelRef, Signals] = {}
        for result in results:
            for ref, signals in result.items():
                before = merged.get(ref)
                if before is None:
                    merged[ref] = signals
                    continue
                merged[ref] = Signals(
                    collected_at=before.collected_at,
                    values={**before.values, **signals.values},
                    error=before.error or signals.error,
                )
        return merged


def provider_for(settings: OperatorSettings,
                 metrics: OperatorMetrics | None = None) -> SignalProvider:
    if not settings.prometheus_url:
        return NoSignals()
    client = PrometheusClient(settings.prometheus_url)
    return CombinedProvider(MonitoringProvider(client, metrics), CanaryProvider(client))
