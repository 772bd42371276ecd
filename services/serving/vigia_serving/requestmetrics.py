"""The server's own request metrics: count and latency of each API request, labelled with
the server's identity (namespace, model, version, track) by the server itself.

BentoML's HTTP metrics carry none of these labels, so the canary's error and latency gates
depended on the scrape relabelling them from the pod; with these, any scrape works (a
PodMonitor, a ServiceMonitor, `prometheus.io` annotations, plain kubernetes_sd).
A pure ASGI wrapper: it sees the status code a route answered and the time until the
response's last byte, for the API endpoints only (a path label per arbitrary URL would let
any caller create series).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram

from vigia import metrics

ASGIApp = Callable[[dict[str, Any], Callable[..., Any], Callable[..., Any]], Any]
# Who is serving: the model's name and version, known once its bundle is loaded ("" before).
Serving = Callable[[], tuple[str, str]]


class RequestMetrics:
    """Wraps ``app``, a server of ``serving()`` in ``namespace`` on ``track``."""

    def __init__(self, app: ASGIApp, *, namespace: str, track: str, serving: Serving,
                 registry: CollectorRegistry = REGISTRY) -> None:
        self.app = app
        self._namespace, self._track = namespace, track
        self._serving = serving
        labels = [*metrics.SERVER_LABELS, metrics.LABEL_ENDPOINT]
        self._requests = Counter(metrics.REQUESTS, "API requests by endpoint and status code.",
                                 [*labels, metrics.LABEL_CODE], registry=registry)
        self._duration = Histogram(
            metrics.REQUEST_DURATION, "Seconds from a request's arrival to its answer's end.",
            labels, buckets=metrics.REQUEST_DURATION_BUCKETS, registry=registry)
        self._children: dict[tuple[str, str, str, str], tuple[Any, Any]] = {}

    async def __call__(self, scope: dict[str, Any], receive: Callable[..., Any],
                       send: Callable[..., Any]) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path not in metrics.MEASURED_ENDPOINTS:
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        code = 500  # what the client sees when the app raises before answering

        async def sending(message: dict[str, Any]) -> None:
            nonlocal code
            if message["type"] == "http.response.start":
                code = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            requests, duration = self._bound(path, str(code))
            requests.inc()
            duration.observe(time.perf_counter() - began)

    def _bound(self, endpoint: str, code: str) -> tuple[Any, Any]:
        """The label children of one endpoint and code, bound once (``.labels()`` costs)."""
        model, version = self._serving()
        key = (model, version, endpoint, code)
        children = self._children.get(key)
        if children is None:
            base = (self._namespace, model, version, self._track, endpoint)
            children = (self._requests.labels(*base, code), self._duration.labels(*base))
            self._children[key] = children
        return children
