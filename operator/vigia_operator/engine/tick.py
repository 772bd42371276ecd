"""The periodic tick: one per operator process, not a timer per object.

Each tick takes every ModelDeployment from the store, runs the collection step once for
all of them (``SignalProvider.collect``), then reconciles each one with its signals
through the one reconcile path; the engine's semaphore bounds the concurrency. Only the
leader ticks; with shards, each replica ticks over the objects of its own shards. The
tick is also the safety net for a missed watch event.

Monitoring evaluates each model at its own spec.monitoring.interval on this shared tick:
a model is collected for (and judged by) monitoring only on the ticks where its interval
is due (``decide.monitoring.monitoring_due``); canary analyses follow their own interval.
When each model was last evaluated is kept in memory: after a restart every model is
evaluated on the first tick, then at its cadence again.

One object never stops the tick: each reconcile reports its own failure or its time
budget on that object (``Engine.reconcile``), the collection has a budget of its own, and
the tick's loop is supervised (``supervise``): a crash restarts it with backoff, and
``Tick.alive`` (the liveness probe) turns false when no tick has completed for
``TICK_LIVENESS_INTERVALS`` intervals, so the kubelet restarts an operator that cannot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from vigia_operator.core.clock import iso_from_unix
from vigia_operator.core.config import TICK_LIVENESS_INTERVALS, TICK_RESTART_MAX_SECONDS
from vigia_operator.core.types import MONITORING_AT, ModelRef, Signals
from vigia_operator.decide.monitoring import monitoring_due
from vigia_operator.engine.reconcile import Engine, ReconcileReport
from vigia_operator.prometheus.providers import SignalProvider
from vigia_operator.view import ModelDeploymentView

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TickReport:
    models: int
    monitored: int  # whose spec.monitoring.interval was due
    with_signals: int
    applied: int
    written: int
    unchanged: int  # reconciles that found the inputs of one that did nothing
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
        self.completed_at = time.monotonic()  # the last tick completed (or the start)

    async def run(self) -> None:
        """Tick every interval (only the leader acts); a follower's idle turn counts as
        completed, so liveness means "the loop turns", not "this replica leads"."""
        while True:
            await asyncio.sleep(self._interval)
            if self._engine.leader.is_leader:
                await self.once()
            self.completed_at = time.monotonic()

    def stalled_for(self, now: float | None = None) -> float:
        """Seconds since the last tick completed."""
        return (time.monotonic() if now is None else now) - self.completed_at

    def alive(self, now: float | None = None) -> bool:
        """Whether a tick completed recently enough: within TICK_LIVENESS_INTERVALS
        intervals plus one tick's budgets (the collection's and one reconcile's)."""
        settings = self._engine.settings
        allowed = (TICK_LIVENESS_INTERVALS * self._interval + settings.collect_budget_seconds
                   + settings.reconcile_budget_seconds)
        return self.stalled_for(now) <= allowed

    async def once(self) -> TickReport:
        """One tick; a tick still running when the next is due is not doubled."""
        async with self._running:
            started = time.monotonic()
            views = self._views()
            now = self._clock()
            due = self._due(views, now)
            signals = await self._collect(views, due, now)
            results = await asyncio.gather(*(
                self._engine.reconcile(ref, trigger="tick", signals=signals.get(ref))
                for ref in (ModelRef.of(v) for v in views)
            ), return_exceptions=True)
            outcomes = [o for o in results if isinstance(o, ReconcileReport)]
            for failed in (o for o in results if isinstance(o, BaseException)):
                if not isinstance(failed, Exception):
                    raise failed  # cancelled: the operator stops
                logger.error(f"A reconcile escaped its own failure report: {failed!r}")
            self.completed_at = time.monotonic()
            report = TickReport(
                models=len(views), monitored=len(due), with_signals=len(signals),
                applied=sum(len(o.applied) for o in outcomes),
                written=sum(o.status_written for o in outcomes),
                unchanged=sum(o.unchanged for o in outcomes),
                seconds=time.monotonic() - started,
            )
            logger.debug(f"Tick: {report}")
            return report

    def _views(self) -> list[ModelDeploymentView]:
        """The ModelDeployments this replica acts for (all, unless shards split them)."""
        views = []
        for body in self._engine.store.models():
            # A spec it cannot parse is reported by its own reconcile; nothing to collect.
            with contextlib.suppress(Exception):
                view = self._engine.specs.view(body)
                if self._engine.leader.acts_for(ModelRef.of(view)):
                    views.append(view)
        return views

    def _due(self, views: list[ModelDeploymentView], now: float) -> list[ModelDeploymentView]:
        """The models whose monitoring interval is due; they are counted evaluated now."""
        due = [v for v in views
               if monitoring_due(v.monitoring, self._monitored_at.get(ModelRef.of(v)), now)]
        present = {ModelRef.of(v) for v in views}
        self._monitored_at = {ref: at for ref, at in self._monitored_at.items()
                              if ref in present}
        self._monitored_at.update((ModelRef.of(v), now) for v in due)
        return due

    async def _collect(self, views: list[ModelDeploymentView],
                       due: list[ModelDeploymentView], now: float) -> dict[ModelRef, Signals]:
        if not views:
            return {}
        budget = self._engine.settings.collect_budget_seconds
        try:
            return dict(await asyncio.wait_for(self._provider.collect(views, due, now), budget))
        except TimeoutError:
            error: Exception = TimeoutError(f"took longer than its budget of {budget:g}s")
        except Exception as failed:  # a provider's failure is a state of each model, not a crash
            error = failed
        logger.warning(f"Signal collection failed: {error!r}")
        monitored = {ModelRef.of(v) for v in due}
        return {ModelRef.of(v): Signals(
            collected_at=iso_from_unix(now), error=f"collection failed: {error}",
            values={MONITORING_AT: now} if ModelRef.of(v) in monitored else {})
            for v in views}


async def supervise(name: str, run: Callable[[], Awaitable[None]],
                    max_delay: float = TICK_RESTART_MAX_SECONDS) -> None:
    """Run ``run`` for ever: when it crashes, log it and start it again after 1, 2, 4, ...
    seconds (at most ``max_delay``); cancelling the supervisor stops both."""
    restarts = 0
    while True:
        try:
            await run()
            restarts = 0  # returned: start it again at once
        except Exception:
            delay = min(max_delay, float(2**restarts))
            restarts += 1
            logger.exception(f"{name} crashed; restarting it in {delay:g}s "
                             f"(restart {restarts}).")
            await asyncio.sleep(delay)
