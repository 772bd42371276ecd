"""Requests that arrive while the model loads: they wait for it, within a bound."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from vigia_serving.app import ServerState


def test_a_request_waits_for_a_model_that_is_loading() -> None:
    state = ServerState(load_wait_s=5.0)
    loaded: Any = object()

    async def scenario() -> Any:
        async def finish_loading() -> None:
            await asyncio.sleep(0.2)
            state.runtime = loaded

        _, runtime = await asyncio.gather(finish_loading(), state.loaded_runtime())
        return runtime

    assert asyncio.run(scenario()) is loaded


def test_a_failed_load_answers_at_once() -> None:
    state = ServerState(load_wait_s=30.0, error="the model could not be loaded: digest")
    started = time.monotonic()
    assert asyncio.run(state.loaded_runtime()) is None
    assert time.monotonic() - started < 5.0


def test_the_wait_is_bounded() -> None:
    state = ServerState(load_wait_s=0.2)
    assert asyncio.run(state.loaded_runtime()) is None
