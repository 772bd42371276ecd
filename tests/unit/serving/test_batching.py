"""The micro-batcher gathers concurrent requests into one call and isolates failures."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import pytest
from vigia_serving.batching import (
    BatcherClosedError,
    ClientGoneError,
    MicroBatcher,
    OverloadedError,
)


class Recorder:
    def __init__(self, gate: threading.Event | None = None) -> None:
        self.calls: list[list[int]] = []
        self.gate = gate

    def __call__(self, items: Sequence[int]) -> list[int]:
        if self.gate is not None:
            self.gate.wait(5)
        if any(i < 0 for i in items):
            raise ValueError("negative")
        self.calls.append(list(items))
        return [i * 10 for i in items]


async def test_single_request_runs_at_once() -> None:
    run = Recorder()
    batcher = MicroBatcher(run)
    assert await batcher.submit(4) == 40
    assert run.calls == [[4]]
    await batcher.close()


async def test_requests_queued_while_the_model_is_busy_share_one_call() -> None:
    gate = threading.Event()
    run = Recorder(gate)
    batcher = MicroBatcher(run, max_rows=100)
    first = asyncio.create_task(batcher.submit(0))
    await asyncio.sleep(0.05)  # the first batch is now blocked on the gate
    rest = [asyncio.create_task(batcher.submit(i)) for i in range(1, 6)]
    await asyncio.sleep(0.05)
    gate.set()
    assert await first == 0
    assert [await t for t in rest] == [10, 20, 30, 40, 50]
    assert run.calls == [[0], [1, 2, 3, 4, 5]]
    await batcher.close()


async def test_batches_respect_max_rows() -> None:
    gate = threading.Event()
    run = Recorder(gate)
    batcher = MicroBatcher(run, max_rows=4)
    first = asyncio.create_task(batcher.submit(0))
    await asyncio.sleep(0.05)
    rest = [asyncio.create_task(batcher.submit(i, rows=2)) for i in range(1, 5)]
    await asyncio.sleep(0.05)
    gate.set()
    await asyncio.gather(first, *rest)
    assert run.calls == [[0], [1, 2], [3, 4]]
    await batcher.close()


async def test_a_failing_item_does_not_fail_its_batch_neighbours() -> None:
    gate = threading.Event()
    batcher = MicroBatcher(Recorder(gate))
    first = asyncio.create_task(batcher.submit(0))
    await asyncio.sleep(0.05)
    good = asyncio.create_task(batcher.submit(1))
    bad = asyncio.create_task(batcher.submit(-1))
    await asyncio.sleep(0.05)
    gate.set()
    assert await first == 0
    assert await good == 10
    with pytest.raises(ValueError, match="negative"):
        await bad
    await batcher.close()


async def test_closed_batcher_refuses_work() -> None:
    batcher = MicroBatcher(Recorder())
    await batcher.submit(1)
    await batcher.close()
    with pytest.raises(BatcherClosedError):
        await batcher.submit(2)


async def test_wait_gathers_requests_that_arrive_shortly_after() -> None:
    run = Recorder()
    batcher = MicroBatcher(run, max_wait_s=0.2)

    async def later(i: int) -> int:
        await asyncio.sleep(0.02)
        return await batcher.submit(i)

    results = await asyncio.gather(batcher.submit(1), later(2), later(3))
    assert results == [10, 20, 30]
    assert run.calls == [[1, 2, 3]]
    await batcher.close()


async def test_a_full_queue_refuses_at_once() -> None:
    gate = threading.Event()
    batcher = MicroBatcher(Recorder(gate), max_rows=10, max_queued_rows=4)
    running = asyncio.create_task(batcher.submit(0, rows=1))
    await asyncio.sleep(0.05)  # taken off the queue, blocked on the gate
    queued = [asyncio.create_task(batcher.submit(i, rows=2)) for i in (1, 2)]
    await asyncio.sleep(0.01)
    with pytest.raises(OverloadedError):
        await batcher.submit(3, rows=1)
    gate.set()
    assert [await t for t in queued] == [10, 20]
    assert await running == 0
    assert await batcher.submit(4, rows=4) == 40  # room again once the queue drained
    await batcher.close()


async def test_work_of_clients_that_left_is_skipped() -> None:
    gate = threading.Event()
    run = Recorder(gate)
    batcher = MicroBatcher(run, max_rows=10, check_gone_after_s=0.0)
    running = asyncio.create_task(batcher.submit(0))
    await asyncio.sleep(0.05)

    async def gone() -> bool:
        return True

    async def present() -> bool:
        return False

    left = asyncio.create_task(batcher.submit(1, gone=gone))
    cancelled = asyncio.create_task(batcher.submit(2))
    stays = asyncio.create_task(batcher.submit(3, gone=present))
    await asyncio.sleep(0.01)
    cancelled.cancel()
    gate.set()
    assert await stays == 30
    with pytest.raises(ClientGoneError):
        await left
    await running
    assert run.calls == [[0], [3]]
    assert batcher.skipped == 2
    await batcher.close()
