"""The periodic tick: one per operator process, not a timer per object.

Each tick takes every ModelDeployment from the store, runs the collection step once for
all of them (``SignalProvider.collect``), then reconciles each one with its signals
through the one reconcile path; the engine's semaphore bounds the concurrency. Only the
leader ticks. The tick is also the safety net for a missed watch event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass

from vigia_operator.core.types import ModelRef, Signals
from vigia_operator.engine.reconcile import Engine
from vigia_operator.prometheus.providers import SignalProvider
from vigia_operator.status.writer import now
from vigia_operator.view import ModelDeploymentView, SpecError, parse

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TickReport:
    models: int
    with_signals: int
    applied: int
    written: int
    seconds: float


class Tick:
    def __init__(self, engine: Engine, provider: SignalProvider, interval: float) -> None:
        self._engine = engine
        self._provider = provider
        self._interval = interval
        self._running = asyncio.Lock()

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
            signals = await self._collect(views)
            outcomes = await asyncio.gather(*(
                self._engine.reconcile(ref, trigger="tick", signals=signals.get(ref))
                for ref in (ModelRef.of(v) for v in views)
            ))
            report = TickReport(
                models=len(views), with_signals=len(signals),
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

    async def _collect(self, views: list[ModelDeploymentView]) -> dict[ModelRef, Signals]:
        if not views:
            return {}
        try:
            return dict(await self._provider.collect(views))
        except Exception as error:  # a provider's failure is a state of each model, not a crash
            logger.warning(f"Signal collection failed: {error!r}")
            failed = Signals(collected_at=now(), error=f"collection failed: {error}")
            return {ModelRef.of(v): failed for v in views}
