"""HTTP routes of the model server: thin handlers over ModelRuntime.

The routes are a Starlette app mounted into the BentoML service (BentoML supplies
/healthz, /readyz, /metrics, its request metrics and the process model; the kubelet
asks the probes through vigia_serving.probes). Bodies are
read and parsed by vigia_serving.payloads rather than by BentoML's pydantic IO
descriptors, which roughly halves the per-request cost (docs/serving.md).

Every answer is immediate and JSON: refusals name the field; load beyond the limits of
``ServerState`` is shed with 503 and Retry-After; an unexpected exception is logged and
answered 500 without details (no connection strings or fetched content in bodies).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.to_thread
import orjson
from sqlalchemy.exc import SQLAlchemyError
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from vigia.features import InvalidInputError

from . import monitoring
from .batching import BatcherClosedError, ClientGoneError, OverloadedError
from .bounds import request_cost
from .explain import UnsupportedModelError
from .openapi import DOCS_HTML, build_openapi
from .payloads import (
    MalformedBodyError,
    RowsRequest,
    TooLargeError,
    UnsupportedMediaTypeError,
    check_content_type,
    parse_feedback,
    parse_pending_query,
    parse_rows,
)
from .runtime import ModelRuntime
from .store import FeedbackConflictError, FeedbackResult, UnknownPredictionError

log = logging.getLogger("bentoml.serve.vigia")

REASON_OVERLOAD = "overload"
REASON_CLIENT_GONE = "client_gone"


@dataclass
class ServerState:
    """What the handlers need; ``runtime`` is None until the model is loaded."""

    runtime: ModelRuntime | None = None
    error: str | None = None
    max_rows: int = 1000
    max_explain_rows: int = 50
    max_body_bytes: int = 8 * 1024 * 1024
    # Requests in a handler at once; beyond it 503 + Retry-After.
    max_concurrency: int = 128
    # Bytes of bodies in a handler at once (each counted by ``bounds.request_cost``);
    # beyond it 503 + Retry-After. Derived from the memory limit (vigia_serving.bounds).
    body_budget: int = 1024**3
    # Answers of more rows than this are built and serialised in a thread, off the loop.
    inline_answer_rows: int = 256
    max_explain_concurrency: int = 2
    # Bodies larger than this are parsed and validated in a thread, off the event loop.
    inline_parse_bytes: int = 32 * 1024
    retry_after_s: int = 1
    # A prediction may sit in another worker's or replica's buffer for a flush interval.
    unknown_id_wait_s: float = 0.0
    # With several workers, /readyz answers from whichever worker takes the probe: a
    # request may reach a worker still loading the model. It waits this long for it.
    load_wait_s: float = 10.0
    in_flight: int = 0
    bytes_in_flight: int = 0
    explaining: int = 0
    _parse_limiter: anyio.CapacityLimiter | None = field(default=None, repr=False)

    async def loaded_runtime(self) -> ModelRuntime | None:
        """The runtime, waiting up to ``load_wait_s`` while the model is still loading."""
        deadline = time.monotonic() + self.load_wait_s
        while self.runtime is None and self.error is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return self.runtime

    def parse_limiter(self) -> anyio.CapacityLimiter:
        """Threads parsing large bodies at once (created inside the event loop)."""
        if self._parse_limiter is None:
            self._parse_limiter = anyio.CapacityLimiter(2)
        return self._parse_limiter


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(data), status_code=status, media_type="application/json", headers=headers
    )


def error_response(status: int, message: str, field: str | None = None) -> Response:
    body: dict[str, Any] = {"error": message}
    if field is not None:
        body["field"] = field
    return json_response(body, status)


def unavailable(state: ServerState, message: str) -> Response:
    """503 with Retry-After: for load, loading and shutdown alike."""
    return json_response(
        {"error": message}, 503, headers={"Retry-After": str(state.retry_after_s)}
    )


def input_error_status(exc: InvalidInputError) -> int:
    if isinstance(exc, TooLargeError):
        return 413
    if isinstance(exc, UnsupportedMediaTypeError):
        return 415
    if isinstance(exc, MalformedBodyError):
        return 400
    return 422


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused (413) as soon as it is declared or found to exceed ``limit``."""
    check_content_type(request.headers.get("content-type"))
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise TooLargeError("body", f"{declared} bytes; at most {limit} per request")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLargeError("body", f"more than {limit} bytes; at most {limit} per request")
        chunks.append(chunk)
    return b"".join(chunks)


Handler = Callable[[Request, ModelRuntime], Awaitable[Response]]


class RoutesOnly(Starlette):
    """A Starlette app without its own error middleware: it runs mounted inside BentoML's
    app, and every route catches its own exceptions (``answering``). Saves two layers on
    every request."""

    def build_middleware_stack(self) -> Any:
        return self.router


def answering(
    endpoint: Callable[[Request], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    """Any exception the route did not expect: logged, answered 500 at once."""

    async def route(request: Request) -> Response:
        try:
            return await endpoint(request)
        except Exception:
            log.exception("unexpected error in %s", request.url.path)
            return error_response(500, "internal error; the server log has the details")

    return route


def build_app(state: ServerState) -> Starlette:
    """The API routes over ``state``; refusals are JSON ``{"error", "field"}``."""

    def guarded(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            cost = request_cost(request.headers.get("content-length"), state.max_body_bytes)
            if state.in_flight >= state.max_concurrency:
                _count_rejection(state.runtime, REASON_OVERLOAD)
                return unavailable(state, "too many requests at once; retry later")
            if state.in_flight and state.bytes_in_flight + cost > state.body_budget:
                _count_rejection(state.runtime, REASON_OVERLOAD)
                return unavailable(state, "too much request data at once; retry later")
            state.in_flight += 1
            state.bytes_in_flight += cost
            try:
                return await _handle(request, handler)
            finally:
                state.in_flight -= 1
                state.bytes_in_flight -= cost

        return answering(endpoint)

    async def _handle(request: Request, handler: Handler) -> Response:
        runtime = await state.loaded_runtime()
        if runtime is None:
            return unavailable(state, state.error or "the model is still loading")
        try:
            return await handler(request, runtime)
        except InvalidInputError as exc:
            reason = monitoring.REASON_INVALID
            if isinstance(exc, TooLargeError):
                reason = monitoring.REASON_TOO_LARGE
            _count_rejection(runtime, reason)
            return error_response(input_error_status(exc), exc.message, exc.field)
        except OverloadedError:
            _count_rejection(runtime, REASON_OVERLOAD)
            return unavailable(state, "the prediction queue is full; retry later")
        except BatcherClosedError:
            return unavailable(state, "the server is shutting down")
        except (ClientGoneError, ClientDisconnect):
            _count_rejection(runtime, REASON_CLIENT_GONE)
            return error_response(499, "the client went away")

    async def rows_of(request: Request, runtime: ModelRuntime, max_rows: int) -> Any:
        body = await read_body(request, state.max_body_bytes)

        def parse() -> tuple[RowsRequest, Any]:
            parsed = parse_rows(body, max_rows=max_rows)
            return parsed, runtime.validate(parsed)

        if len(body) <= state.inline_parse_bytes:
            return parse()
        return await anyio.to_thread.run_sync(parse, limiter=state.parse_limiter())

    async def predict(request: Request, runtime: ModelRuntime) -> Response:
        parsed, columns = await rows_of(request, runtime, state.max_rows)
        proba = await runtime.infer(parsed, columns, request.is_disconnected)

        def answer() -> bytes:  # ids, the log's records, the JSON: Python work per row
            return orjson.dumps(runtime.answer(parsed, proba))

        if len(parsed.rows) <= state.inline_answer_rows:
            body = answer()
        else:
            body = await anyio.to_thread.run_sync(answer, limiter=state.parse_limiter())
        return Response(body, media_type="application/json")

    async def feedback(request: Request, runtime: ModelRuntime) -> Response:
        body = await read_body(request, state.max_body_bytes)
        items = parse_feedback(body, classes=runtime.classes, max_items=state.max_rows,
                               regression=runtime.regression)
        try:
            results = await _record(runtime, items, state.unknown_id_wait_s)
        except UnknownPredictionError as exc:
            return error_response(404, str(exc), _item_field(items, exc.index, "prediction_id"))
        except FeedbackConflictError as exc:
            return error_response(409, str(exc), _item_field(items, exc.index, exc.field))
        except SQLAlchemyError:
            log.exception("feedback store failed")
            return store_unavailable()
        body_out = [{"prediction_id": r.prediction_id, "stored": not r.duplicate} for r in results]
        return json_response({"feedback": body_out})

    async def pending(request: Request, runtime: ModelRuntime) -> Response:
        query = parse_pending_query(request.query_params.multi_items(), max_limit=state.max_rows)
        try:
            answer = await anyio.to_thread.run_sync(runtime.pending, query.limit, query.order)
        except SQLAlchemyError:
            log.exception("reading the labelling queue failed")
            return store_unavailable()
        return json_response(answer)

    def store_unavailable() -> Response:
        return json_response(
            {"error": "the feedback store is unavailable; retry later"},
            503, headers={"Retry-After": str(state.retry_after_s)},
        )

    async def explain(request: Request, runtime: ModelRuntime) -> Response:
        if state.explaining >= state.max_explain_concurrency:
            _count_rejection(runtime, REASON_OVERLOAD)
            return unavailable(state, "too many explanations at once; retry later")
        state.explaining += 1
        try:
            parsed, _ = await rows_of(request, runtime, state.max_explain_rows)
            result = await runtime.explain(parsed)
        except UnsupportedModelError as exc:
            return error_response(501, str(exc))
        finally:
            state.explaining -= 1
        return json_response(result)

    async def openapi(_: Request) -> Response:
        runtime = state.runtime
        meta = runtime.bundle.metadata if runtime else None
        return json_response(build_openapi(meta, max_pending=state.max_rows))

    async def docs(_: Request) -> Response:
        return HTMLResponse(DOCS_HTML)

    return RoutesOnly(
        routes=[
            Route("/predict", guarded(predict), methods=["POST"]),
            Route("/feedback", guarded(feedback), methods=["POST"]),
            # No body: not charged against the body budget as guarded() does.
            Route("/feedback/pending", answering(lambda r: _handle(r, pending)), methods=["GET"]),
            Route("/explain", guarded(explain), methods=["POST"]),
            Route("/openapi.json", answering(openapi), methods=["GET"]),
            Route("/docs", answering(docs), methods=["GET"]),
        ]
    )


def _count_rejection(runtime: ModelRuntime | None, reason: str) -> None:
    if runtime is not None and runtime.monitor is not None:
        runtime.monitor.reject(reason)


async def _record(runtime: ModelRuntime, items: Any, wait_s: float) -> list[FeedbackResult]:
    """Store feedback; an id not (yet) in the log is looked up again until ``wait_s``
    has passed, since another worker or replica may not have written it yet."""
    deadline = time.monotonic() + wait_s
    pause = 0.05
    while True:
        try:
            return await anyio.to_thread.run_sync(runtime.record_feedback, items)
        except UnknownPredictionError:
            if time.monotonic() + pause > deadline:
                raise
        await asyncio.sleep(pause)
        pause = min(pause * 2, 0.5)


def _item_field(items: list[Any], index: int, name: str) -> str:
    return name if len(items) == 1 else f"[{index}].{name}"
