"""The periodic tick: one per operator process, not a timer per object.

Each tick takes every ModelDeployment from the store, runs the collection step once for
all of them (``SignalProvider.collect``), then reconciles each one with its signals
through the one reconcile path; the engine's semaphore bounds the concurrency. Only the
leader ticks. The tick is also the safety net for a missed watch event.

Monitoring evaluates each model at its own spec.monitoring.interval on this shared tick:
a model is collected for (and judged by) monitoring only on the ticks where its interval
is due (``decide.monitoring.monitoring_due``); canary analyses follow their own interval.
When each model was last evaluated is kept in memory: after a restart every model is
evaluated on the first tick, then at its cadence again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from vigia_operator.core.clock import iso_from_unix
from vigia_operator.core.types import MONITORING_AT, ModelRef, Signals
from vigia_operator.decide.monitoring import monitoring_due
from vigia_operator.engine.reconcile import Engine
from vigia_operator.prometheus.providers import SignalProvider
from vigia_operator.view import ModelDeploymentView, SpecError, parse

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TickReport:
    models: int
    monitored: int  # whose spec.monitoring.interval was due
    with_signals: int
    applied: int
    written: int
    seconds: float


class Tick:
    def __init__(self, engine: Engine, provider: SignalProvider, interval: float,
                 clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._engine = engine
        self._provider = provider
        self._interval = interval
        self._running = asyncio.Lock()
        self._monitored_at: dict[ModelRef, float] = {}  # when monitoring last evaluated

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            if self._engine.leader.is_leader:
                await self.once()

    async def once(self) -> TickReport:
        """One tick; a tick still running when the next is due is not doubled."""
        async with self._running:
            started = time.monotonic()
            views = self._views()
            now = self._clock()
            due = self._due(views, now)
            signals = await self._collect(views, due, now)
            outcomes = await asyncio.gather(*(
                self._engine.reconcile(ref, trigger="tick", signals=signals.get(ref))
                for ref in (ModelRef.of(v) for v in views)
            ))
            report = TickReport(
                models=len(views), monitored=len(due), with_signals=len(signals),
                applied=sum(len(o.applied) for o in outcomes),
                written=sum(o.status_written for o in outcomes),
                seconds=time.monotonic() - started,
            )
            logger.debug(f"Tick: {report}")
            return report

    def _views(self) -> list[ModelDeploymentView]:
        views = []
        for body in self._engine.store.models():
            # A spec it cannot parse is reported by its own reconcile; nothing to collect.
            with contextlib.suppress(SpecError):
                views.append(parse(body))
        return views

    def _due(self, views: list[ModelDeploymentView], now: float) -> list[ModelDeploymentView]:
        """The models whose monitoring interval is due; they are counted evaluated now."""
        due = [v for v in views
               if monitoring_due(v.monitoring, self._monitored_at.get(ModelRef.of(v)), now)]
        self._monitored_at = {ref: at for ref, at in self._monitored_at.items()
                              if ref in {ModelRef.of(v) for v in views}}
        self._monitored_at.update((ModelRef.of(v), now) for v in due)
        return due

    async def _collect(self, views: list[ModelDeploymentView],
                       due: list[ModelDeploymentView], now: float) -> dict[ModelRef, Signals]:
        if not views:
            return {}
        try:
            return dict(await self._provider.collect(views, due, now))
        except Exception as error:  # a provider's failure is a state of each model, not a crash
            logger.warning(f"Signal collection failed: {error!r}")
            monitored = {ModelRef.of(v) for v in due}
            return {ModelRef.of(v): Signals(
                collected_at=iso_from_unix(now), error=f"collection failed: {error}",
                values={MONITORING_AT: now} if ModelRef.of(v) in monitored else {})
                for v in views}
