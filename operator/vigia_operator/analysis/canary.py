"""The canary's SignalProvider: the canary queries (rollout/queries.py) for every model at
once, run through the monitoring client, filed per model under ``values["canary"]``.

One query per signal and distinct analysis interval, whatever the number of models; the
window of each is the model's spec.rollout.analysis.interval.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Protocol

from vigia_operator.engine.signals import ModelRef, SignalProvider, Signals
from vigia_operator.rollout.queries import (
    SIGNALS_ERROR_KEY,
    SIGNALS_KEY,
    CanarySignals,
    Sample,
    queries_for,
)
from vigia_operator.spec import ModelDeploymentView


class QueryClient(Protocol):
    """An instant-query client (the monitoring's PrometheusClient is one)."""

    def query(self, promql: str, at: float) -> Sequence[Sample]: ...


def window_of(md: ModelDeploymentView) -> str | None:
    if md.rollout is None:
        return None
    return f"{max(1, round(md.rollout.analysis.interval_s))}s"


class CanaryProvider:
    def __init__(self, client: QueryClient, *, parallel: int = 4) -> None:
        self.client = client
        self.parallel = parallel

    async def collect(self, models: Sequence[ModelDeploymentView]) -> Mapping[ModelRef, Signals]:
        by_window: dict[str, list[ModelDeploymentView]] = {}
        for md in models:
            window = window_of(md)
            if window is not None:
                by_window.setdefault(window, []).append(md)
        at = datetime.now(UTC)
        stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
        out: dict[ModelRef, Signals] = {}
        for window, views in by_window.items():
            try:
                signals = await asyncio.to_thread(self._collect, window, at.timestamp())
            except Exception as error:  # Prometheus down or refusing: a state, never a crash
                for md in views:
                    out[ModelRef.of(md)] = Signals(stamp, values={SIGNALS_ERROR_KEY: str(error)})
                continue
            for md in views:
                tracks = signals.tracks.get((md.namespace, md.name), {})
                out[ModelRef.of(md)] = Signals(stamp, values={SIGNALS_KEY: tracks})
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

    async def collect(self, models: Sequence[ModelDeploymentView]) -> Mapping[ModelRef, Signals]:
        results = await asyncio.gather(*(p.collect(models) for p in self.providers))
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
