"""The routes answer at once, in JSON, whatever goes wrong inside them."""

from __future__ import annotations

from typing import Any, cast

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from vigia_serving.app import RoutesOnly, ServerState, answering, build_app
from vigia_serving.runtime import ModelRuntime


async def test_an_unexpected_exception_is_a_json_500_without_details() -> None:
    async def broken(_: Request) -> Response:
        raise RuntimeError("postgresql://user:secret@db.internal/x")

    app = RoutesOnly(routes=[Route("/boom", answering(broken))])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        response = await c.get("/boom")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    assert "error" in response.json()
    assert "secret" not in response.text and "db.internal" not in response.text


class ExplodingRuntime:
    """A loaded runtime whose validation fails in a way nobody foresaw."""

    monitor = None

    def validate(self, _: Any) -> Any:
        raise KeyError("surprise")


@pytest.mark.parametrize("path", ["/predict", "/explain"])
async def test_a_failing_runtime_answers_500_at_once(path: str) -> None:
    state = ServerState(runtime=cast(ModelRuntime, ExplodingRuntime()))
    app = build_app(state)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        response = await c.post(path, json={"rows": [[1.0]]}, timeout=5)
    assert response.status_code == 500
    assert response.json()["error"]
    assert state.in_flight == 0 and state.explaining == 0


async def test_requests_beyond_the_concurrency_limit_get_503_with_retry_after() -> None:
    state = ServerState(runtime=cast(ModelRuntime, ExplodingRuntime()), max_concurrency=0)
    app = build_app(state)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        response = await c.post("/predict", json={"rows": [[1.0]]})
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
