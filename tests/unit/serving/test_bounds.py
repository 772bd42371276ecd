"""The body and concurrency bounds, derived from the container's memory limit, and the
admission that keeps the bodies in flight within them."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, cast

import httpx
import numpy as np
import pytest
from vigia_serving.app import ServerState, build_app
from vigia_serving.bounds import (
    BODY_EXPANSION,
    DEFAULT_MEMORY_LIMIT,
    MIN_REQUEST_BYTES,
    REQUEST_MEMORY_SHARE,
    MemoryLimit,
    derive_bounds,
    memory_limit,
    request_cost,
)
from vigia_serving.runtime import ModelRuntime

MIB = 1024 * 1024
GIB = 1024 * MIB


def cgroup(tmp_path: Path, v2: str | None = None, v1: str | None = None) -> list[Path]:
    files = [tmp_path / "memory.max", tmp_path / "memory.limit_in_bytes"]
    for path, text in zip(files, (v2, v1), strict=True):
        if text is not None:
            path.write_text(text + "\n")
    return files


def test_the_limit_is_the_cgroups_and_a_configured_one_only_lowers_it(tmp_path: Path) -> None:
    files = cgroup(tmp_path, v2=str(2 * GIB))
    assert memory_limit(None, files) == MemoryLimit(2 * GIB, str(files[0]))
    assert memory_limit(GIB, files) == MemoryLimit(GIB, "configured")
    assert memory_limit(4 * GIB, files).bytes == 2 * GIB


@pytest.mark.parametrize(("v2", "v1"), [("max", None), (None, "9223372036854771712"),
                                         (None, None)])
def test_no_cgroup_limit_falls_back_to_the_configured_then_the_default(
    tmp_path: Path, v2: str | None, v1: str | None
) -> None:
    files = cgroup(tmp_path, v2=v2, v1=v1)
    assert memory_limit(None, files) == MemoryLimit(DEFAULT_MEMORY_LIMIT, "default")
    assert memory_limit(3 * GIB, files) == MemoryLimit(3 * GIB, "configured")


def test_cgroup_v1_limit_is_read(tmp_path: Path) -> None:
    assert memory_limit(None, cgroup(tmp_path, v1=str(512 * MIB))).bytes == 512 * MIB


@pytest.mark.parametrize("limit", [256 * MIB, GIB, 4 * GIB])
@pytest.mark.parametrize("workers", [1, 2, 4])
def test_bodies_in_flight_fit_the_share_of_the_limit(limit: int, workers: int) -> None:
    bounds = derive_bounds(MemoryLimit(limit, "test"), workers, 8 * MIB, 128)
    # What every worker's bodies in flight may cost, together, is the share of the limit.
    assert workers * bounds.body_budget * BODY_EXPANSION <= REQUEST_MEMORY_SHARE * limit
    assert bounds.max_body_bytes <= bounds.body_budget  # the largest request always fits
    assert bounds.max_concurrency * MIN_REQUEST_BYTES <= bounds.body_budget


def test_the_issues_case_no_longer_multiplies_past_the_pod() -> None:
    # 1 GiB, defaults: 128 requests x 8 MiB would be the whole limit before any parsing.
    bounds = derive_bounds(MemoryLimit(GIB, "test"), 1, 8 * MIB, 128)
    assert 128 * 8 * MIB >= GIB
    assert bounds.body_budget == int(GIB * REQUEST_MEMORY_SHARE / BODY_EXPANSION)
    assert (bounds.max_body_bytes, bounds.max_concurrency) == (8 * MIB, 128)
    # A smaller container gets a smaller largest body; configured bounds only lower.
    small = derive_bounds(MemoryLimit(256 * MIB, "test"), 1, 8 * MIB, 128)
    assert small.max_body_bytes == small.body_budget < 8 * MIB
    assert derive_bounds(MemoryLimit(GIB, "test"), 1, MIB, 16).max_body_bytes == MIB
    assert derive_bounds(MemoryLimit(GIB, "test"), 1, MIB, 16).max_concurrency == 16


def test_a_request_counts_its_declared_length_or_the_largest_body() -> None:
    assert request_cost("10", 8 * MIB) == MIN_REQUEST_BYTES
    assert request_cost(str(2 * MIB), 8 * MIB) == 2 * MIB
    assert request_cost(str(100 * MIB), 8 * MIB) == 8 * MIB  # refused 413 when read
    assert request_cost(None, 8 * MIB) == 8 * MIB  # chunked: the worst it can be


class HeldRuntime:
    """A loaded runtime whose model call waits until the test releases it."""

    monitor = None

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.started = asyncio.Event()

    def validate(self, request: Any) -> Any:
        return {}

    async def infer(self, request: Any, columns: Any, gone: Any = None) -> np.ndarray:
        self.started.set()
        await self.release.wait()
        return np.zeros((len(request.rows), 2))

    def answer(self, request: Any, proba: np.ndarray) -> dict[str, Any]:
        return {"predictions": len(request.rows)}


async def test_bodies_beyond_the_budget_wait_their_turn_as_503() -> None:
    runtime = HeldRuntime()
    big = b'{"rows": [' + b",".join([b"[1.0]"] * 60_000) + b"]}"
    state = ServerState(runtime=cast(ModelRuntime, runtime), max_rows=100_000,
                        max_body_bytes=len(big), body_budget=len(big) + MIN_REQUEST_BYTES)
    headers = {"content-type": "application/json"}
    transport = httpx.ASGITransport(app=build_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        first = asyncio.create_task(client.post("/predict", content=big, headers=headers))
        await runtime.started.wait()
        assert state.bytes_in_flight == len(big)
        # Another large body would pass the budget: refused at once, to retry later.
        second = await client.post("/predict", content=big, headers=headers)
        assert second.status_code == 503 and second.headers["retry-after"] == "1"
        assert second.json()["error"] == "too much request data at once; retry later"
        # A small one still fits beside it.
        small = asyncio.create_task(client.post("/predict", json={"rows": [[1.0]]}))
        while state.in_flight < 2:
            await asyncio.sleep(0)
        runtime.release.set()
        assert (await first).json() == {"predictions": 60_000}
        assert (await small).json() == {"predictions": 1}
    assert state.bytes_in_flight == 0 and state.in_flight == 0
