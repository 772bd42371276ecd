"""HTTP routes of the model server: thin handlers over ModelRuntime.

The routes are a Starlette app mounted into the BentoML service (BentoML supplies
/healthz, /readyz, /metrics, its request metrics and the process model). Bodies are
parsed with orjson by vigia_serving.payloads rather than by BentoML's pydantic IO
descriptors, which roughly halves the per-request cost (docs/serving.md).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
import orjson
from sqlalchemy.exc import SQLAlchemyError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from vigia.features import InvalidInputError

from . import monitoring
from .batching import BatcherClosedError
from .explain import UnsupportedModelError
from .openapi import DOCS_HTML, build_openapi
from .payloads import MalformedBodyError, TooLargeError, parse_feedback, parse_rows
from .runtime import ModelRuntime
from .store import FeedbackConflictError, FeedbackResult, UnknownPredictionError

log = logging.getLogger(__name__)


@dataclass
class ServerState:
    """What the handlers need; ``runtime`` is None until the model is loaded."""

    runtime: ModelRuntime | None = None
    error: str | None = None
    max_rows: int = 1000
    max_explain_rows: int = 50
    # With several worker processes a prediction may sit in another worker's buffer.
    unknown_id_grace_s: float = 0.0
    # With several workers, /readyz answers from whichever worker takes the probe: a
    # request may reach a worker still loading the model. It waits this long for it.
    load_wait_s: float = 10.0

    async def loaded_runtime(self) -> ModelRuntime | None:
        """The runtime, waiting up to ``load_wait_s`` while the model is still loading."""
        deadline = time.monotonic() + self.load_wait_s
        while self.runtime is None and self.error is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return self.runtime


def json_response(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


def error_response(status: int, message: str, field: str | None = None) -> Response:
    body: dict[str, Any] = {"error": message}
    if field is not None:
        body["field"] = field
    return json_response(body, status)


def input_error_status(exc: InvalidInputError) -> int:
    if isinstance(exc, TooLargeError):
        return 413
    if isinstance(exc, MalformedBodyError):
        return 400
    return 422


Handler = Callable[[Request, ModelRuntime], Awaitable[Response]]


class RoutesOnly(Starlette):
    """A Starlette app without its own error middleware: it runs mounted inside BentoML's
    app, whose middleware already turns exceptions into responses. Saves two layers on
    every request."""

    def build_middleware_stack(self) -> Any:
        return self.router


def build_app(state: ServerState) -> Starlette:
    """The API routes over ``state``; refusals are JSON ``{"error", "field"}``."""

    def guarded(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            runtime = await state.loaded_runtime()
            if runtime is None:
                message = state.error or "the model is still loading"
                return error_response(503, message)
            try:
                return await handler(request, runtime)
            except InvalidInputError as exc:
                if runtime.monitor is not None:
                    too_large = isinstance(exc, TooLargeError)
                    reason = monitoring.REASON_TOO_LARGE if too_large else monitoring.REASON_INVALID
                    runtime.monitor.reject(reason)
                return error_response(input_error_status(exc), exc.message, exc.field)
            except BatcherClosedError:
                return error_response(503, "the server is shutting down")

        return endpoint

    async def predict(request: Request, runtime: ModelRuntime) -> Response:
        parsed = parse_rows(await request.body(), max_rows=state.max_rows)
        return json_response(await runtime.predict(parsed))

    async def feedback(request: Request, runtime: ModelRuntime) -> Response:
        items = parse_feedback(
            await request.body(), classes=runtime.classes, max_items=state.max_rows
        )
        try:
            results = await _record(runtime, items, state.unknown_id_grace_s)
        except UnknownPredictionError as exc:
            return error_response(404, str(exc), _item_field(items, exc.index, "prediction_id"))
        except FeedbackConflictError as exc:
            return error_response(409, str(exc), _item_field(items, exc.index, "label"))
        except SQLAlchemyError:
            log.exception("feedback store failed")
            return error_response(503, "the feedback store is unavailable; retry later")
        body = [{"prediction_id": r.prediction_id, "stored": not r.duplicate} for r in results]
        return json_response({"feedback": body})

    async def explain(request: Request, runtime: ModelRuntime) -> Response:
        parsed = parse_rows(await request.body(), max_rows=state.max_explain_rows)
        try:
            result = await anyio.to_thread.run_sync(runtime.explain, parsed)
        except UnsupportedModelError as exc:
            return error_response(501, str(exc))
        return json_response(result)

    async def openapi(_: Request) -> Response:
        runtime = state.runtime
        return json_response(build_openapi(runtime.bundle.metadata if runtime else None))

    async def docs(_: Request) -> Response:
        return HTMLResponse(DOCS_HTML)

    return RoutesOnly(
        routes=[
            Route("/predict", guarded(predict), methods=["POST"]),
            Route("/feedback", guarded(feedback), methods=["POST"]),
            Route("/explain", guarded(explain), methods=["POST"]),
            Route("/openapi.json", openapi, methods=["GET"]),
            Route("/docs", docs, methods=["GET"]),
        ]
    )


async def _record(runtime: ModelRuntime, items: Any, grace_s: float) -> list[FeedbackResult]:
    try:
        return await anyio.to_thread.run_sync(runtime.record_feedback, items)
    except UnknownPredictionError:
        if grace_s <= 0:
            raise
    await asyncio.sleep(grace_s)
    return await anyio.to_thread.run_sync(runtime.record_feedback, items)


def _item_field(items: list[Any], index: int, name: str) -> str:
    return name if len(items) == 1 else f"[{index}].{name}"
