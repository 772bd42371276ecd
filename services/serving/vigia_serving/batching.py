"""Micro-batching: concurrent requests are gathered into one model call.

One consumer task takes whatever is queued (up to ``max_rows`` rows, optionally waiting
``max_wait_s`` for more), runs the batch function in a single worker thread and hands
each request its slice of the result. While a batch runs, new requests queue up, so
batches grow with load and a lone request never waits for a timer.

The queue is bounded (``max_queued_rows``): beyond it ``submit`` raises OverloadedError
at once instead of letting waits grow. Work whose client has gone (its future cancelled,
or ``gone()`` true for a job that has waited a while) is skipped, not computed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


class BatcherClosedError(RuntimeError):
    """The batcher is shutting down and takes no new work."""


class OverloadedError(RuntimeError):
    """The queue holds as many rows as it may: the request is refused, not queued."""


class ClientGoneError(RuntimeError):
    """The job was skipped because its client had already gone."""


Gone = Callable[[], Awaitable[bool]]


@dataclass
class _Job(Generic[T, R]):
    item: T
    rows: int
    future: asyncio.Future[R] = field(repr=False)
    queued_at: float = 0.0
    gone: Gone | None = field(default=None, repr=False)


class MicroBatcher(Generic[T, R]):
    """Runs ``run(items) -> results`` (one result per item) on batches of queued items."""

    def __init__(
        self,
        run: Callable[[Sequence[T]], Sequence[R]],
        *,
        max_rows: int = 256,
        max_wait_s: float = 0.0,
        idle_turns: int = 2,
        max_queued_rows: int = 4096,
        check_gone_after_s: float = 0.05,
    ) -> None:
        self._run = run
        self.max_rows = max_rows
        self.max_wait_s = max_wait_s
        self.max_queued_rows = max_queued_rows
        self.check_gone_after_s = check_gone_after_s
        self.queued_rows = 0
        self.skipped = 0
        self.idle_turns = idle_turns
        self._queue: asyncio.Queue[_Job[T, R]] | None = None
        self._task: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vigia-batch")
        self._carry: _Job[T, R] | None = None
        self._closed = False
        self.batches = 0
        self.items = 0
        self.busy_s = 0.0

    async def submit(self, item: T, rows: int = 1, gone: Gone | None = None) -> R:
        """Queue ``item`` (worth ``rows`` rows) and wait for its result.

        Raises OverloadedError when the queue is full (a request larger than the whole
        queue is still taken when nothing else waits). ``gone`` tells whether the client
        has left; it is asked only for a job that has waited ``check_gone_after_s``."""
        if self._closed:
            raise BatcherClosedError("batcher is closed")
        if self.queued_rows and self.queued_rows + rows > self.max_queued_rows:
            raise OverloadedError(f"{self.queued_rows} rows already queued")
        loop = asyncio.get_running_loop()
        if self._queue is None:
            self._queue = asyncio.Queue()
            self._task = loop.create_task(self._consume())
        future: asyncio.Future[R] = loop.create_future()
        self.queued_rows += rows
        self._queue.put_nowait(_Job(item, rows, future, loop.time(), gone))
        return await future

    async def close(self) -> None:
        """Finish queued work, then stop."""
        self._closed = True
        if self._queue is not None and self._task is not None:
            await self._queue.join()
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._executor.shutdown(wait=True)

    async def _consume(self) -> None:
        assert self._queue is not None
        queue = self._queue
        loop = asyncio.get_running_loop()
        while True:
            first, self._carry = self._carry, None
            jobs = [first if first is not None else await queue.get()]
            await self._gather(queue, jobs)
            taken = len(jobs)
            try:
                self.queued_rows -= sum(job.rows for job in jobs)
                jobs = await self._live(jobs, loop.time())
                if jobs:
                    results = await loop.run_in_executor(self._executor, self._run_batch, jobs)
                    for job, result in zip(jobs, results, strict=True):
                        _resolve(job.future, result)
            finally:
                for _ in range(taken):
                    queue.task_done()

    async def _live(self, jobs: list[_Job[T, R]], now: float) -> list[_Job[T, R]]:
        """The jobs whose clients still wait; the others are resolved as gone. The checks
        run at once: each costs a turn of the event loop, which under overload is long."""
        suspects = [
            job for job in jobs
            if not job.future.done() and job.gone is not None
            and now - job.queued_at >= self.check_gone_after_s
        ]
        verdicts = await asyncio.gather(*(job.gone() for job in suspects if job.gone))
        left = {id(job) for job, gone in zip(suspects, verdicts, strict=True) if gone}
        live = []
        for job in jobs:
            if job.future.done() or id(job) in left:
                self.skipped += 1
                _resolve(job.future, ClientGoneError("the client went away"))
            else:
                live.append(job)
        return live

    async def _gather(self, queue: asyncio.Queue[_Job[T, R]], jobs: list[_Job[T, R]]) -> None:
        loop = asyncio.get_running_loop()
        rows = jobs[0].rows
        deadline = loop.time() + self.max_wait_s
        idle_turns = 0
        while rows < self.max_rows:
            if queue.empty():
                remaining = deadline - loop.time()
                if remaining <= 0 and idle_turns >= self.idle_turns:
                    return
                # Give the event loop a turn: requests it has already read reach submit()
                # and join this batch. Costs microseconds when nothing else is waiting.
                idle_turns += 1
                await asyncio.sleep(0 if remaining <= 0 else min(remaining, 0.0005))
                continue
            idle_turns = 0
            job = queue.get_nowait()
            if rows + job.rows > self.max_rows:
                self._carry = job
                return
            jobs.append(job)
            rows += job.rows

    def _run_batch(self, jobs: Sequence[_Job[T, R]]) -> list[R | BaseException]:
        started = time.perf_counter()
        try:
            return self._run_jobs(jobs)
        finally:
            self.busy_s += time.perf_counter() - started

    def _run_jobs(self, jobs: Sequence[_Job[T, R]]) -> list[R | BaseException]:
        self.batches += 1
        self.items += len(jobs)
        try:
            return list(self._run([job.item for job in jobs]))
        except Exception as exc:
            if len(jobs) == 1:
                return [exc]
            # One bad item must not fail its neighbours: retry each on its own.
            return [self._run_one(job) for job in jobs]

    def _run_one(self, job: _Job[T, R]) -> R | BaseException:
        try:
            return self._run([job.item])[0]
        except Exception as exc:
            return exc


def _resolve(future: asyncio.Future[R], result: R | BaseException) -> None:
    if future.done():  # the client went away
        return
    if isinstance(result, BaseException):
        future.set_exception(result)
    else:
        future.set_result(result)
