"""The engine's SignalProvider for monitoring: one batched collection per tick.

The engine's tick calls ``collect(views)``; this runs PrometheusSignals (a thread: the
client is blocking HTTP) and hands each ModelDeployment its own slice, or the reason
nothing could be collected. The status section (status/monitoring.py) judges it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Final

from vigia_operator.engine.signals import ModelRef, Signals
from vigia_operator.spec import ModelDeploymentView

from .client import QueryClient
from .exporter import OperatorMetrics
from .provider import MonitoredModel, PrometheusSignals

# Keys of Signals.values.
MONITORING: Final = "monitoring"  # analysis.signals.ModelSignals (None: nothing measured)
COLLECTED_AT: Final = "monitoringCollectedAt"  # Unix time the queries were evaluated at


class MonitoringProvider:
    def __init__(self, client: QueryClient, metrics: OperatorMetrics | None = None) -> None:
        self._signals = PrometheusSignals(client)
        self._metrics = metrics

    async def collect(self, models: Sequence[ModelDeploymentView]) -> Mapping[ModelRef, Signals]:
        monitored = [MonitoredModel((m.namespace, m.name), m.monitoring) for m in models]
        started = time.perf_counter()
        at = time.time()
        tick = await asyncio.to_thread(self._signals.collect, monitored, at)
        if self._metrics is not None:
            self._metrics.observe_tick(time.perf_counter() - started, self._signals.last_stats)
            self._metrics.retain(m.key for m in monitored)
        stamp = datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {
            ModelRef(*m.key): Signals(
                collected_at=stamp,
                values={MONITORING: tick.of(m.key), COLLECTED_AT: at},
                error=tick.unavailable,
            )
            for m in monitored
        }
