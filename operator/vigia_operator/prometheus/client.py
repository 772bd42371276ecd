"""A small Prometheus HTTP API client: one instant query in, one vector out.

Errors are typed so the caller can tell "Prometheus is not there" (Unknown: decide nothing)
from "this query is wrong" (a user's KPI, reported against that KPI only).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, Protocol


class PrometheusError(Exception):
    """Any failure to get a query's result."""


class PrometheusUnavailable(PrometheusError):
    """Prometheus did not answer, or answered with a server-side failure (5xx, timeout)."""


class QueryRejected(PrometheusError):
    """Prometheus refused the query itself (bad PromQL, wrong type): the query's fault."""


@dataclass(frozen=True)
class Sample:
    """One element of an instant vector (a scalar result has no labels)."""

    labels: dict[str, str]
    value: float
    timestamp: float


@dataclass(frozen=True)
class QueryBounds:
    """Limits on one query: Prometheus's ``timeout`` and ``limit`` parameters, and what the
    client waits for and reads."""

    timeout_s: float
    max_series: int
    max_bytes: int
    grace_s: float = 0.0  # the client waits this much longer than Prometheus's timeout


class QueryClient(Protocol):
    """What the analysis needs from Prometheus."""

    def query(self, promql: str, at: float, bounds: QueryBounds | None = None) -> list[Sample]:
        """The instant query ``promql`` evaluated at Unix time ``at``, within ``bounds``."""
        ...


class PrometheusClient:
    """The Prometheus HTTP API (POST /api/v1/query: long queries fit in a form body)."""

    def __init__(self, url: str, *, timeout_s: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s

    def query(self, promql: str, at: float, bounds: QueryBounds | None = None) -> list[Sample]:
        params = {"query": promql, "time": f"{at:.3f}"}
        timeout_s, max_bytes = self.timeout_s, None
        if bounds is not None:
            # repr: Prometheus reads float seconds, exponent included (1e-09).
            params["timeout"] = repr(float(bounds.timeout_s))
            params["limit"] = str(bounds.max_series + 1)  # one more: "too many" is seen
            timeout_s, max_bytes = bounds.timeout_s + bounds.grace_s, bounds.max_bytes
        request = urllib.request.Request(
            f"{self.url}/api/v1/query", data=urllib.parse.urlencode(params).encode(),
            method="POST", headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as response:
                # One byte past the bound tells "too large" (read() of a chunked body
                # takes None for "everything", not -1).
                body = response.read(None if max_bytes is None else max_bytes + 1)
        except urllib.error.HTTPError as exc:
            raise _http_error(exc) from None
        except (OSError, TimeoutError) as exc:  # refused, reset, DNS, timeout
            raise PrometheusUnavailable(f"{self.url}: {exc}") from None
        if bounds is None:
            return parse_response(body)
        if len(body) > bounds.max_bytes:
            raise QueryRejected(f"the response is larger than {bounds.max_bytes} bytes")
        samples = parse_response(body)
        if len(samples) > bounds.max_series:
            raise QueryRejected(f"the query returned more than {bounds.max_series} series")
        return samples


_ERROR_BODY_BYTES = 64 * 1024


def _http_error(exc: urllib.error.HTTPError) -> PrometheusError:
    try:
        detail = json.loads(exc.read(_ERROR_BODY_BYTES)).get("error", "")
    except (ValueError, AttributeError, OSError):
        detail = ""
    message = f"HTTP {exc.code}: {detail or exc.reason}"
    # 400 bad_data / 422 execution error: the query is at fault; anything else is the server.
    return QueryRejected(message) if exc.code in (400, 422) else PrometheusUnavailable(message)


def parse_response(body: bytes) -> list[Sample]:
    """The samples of an API response (vector or scalar)."""
    try:
        document: dict[str, Any] = json.loads(body)
        if document.get("status") != "success":
            raise QueryRejected(str(document.get("error", "query failed")))
        data = document["data"]
        kind, result = data["resultType"], data["result"]
        if kind == "scalar":
            return [Sample({}, float(result[1]), float(result[0]))]
        if kind != "vector":
            raise QueryRejected(f"expected an instant vector or a scalar, got a {kind}")
        return [
            # float() reads Prometheus's "NaN", "+Inf" and "-Inf".
            Sample(dict(r["metric"]), float(r["value"][1]), float(r["value"][0]))
            for r in result
        ]
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise PrometheusUnavailable(f"unreadable response: {exc}") from None

