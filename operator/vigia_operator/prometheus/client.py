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


class QueryClient(Protocol):
    """What the analysis needs from Prometheus."""

    def query(self, promql: str, at: float) -> list[Sample]:
        """The instant query ``promql`` evaluated at Unix time ``at``."""
        ...


class PrometheusClient:
    """The Prometheus HTTP API (POST /api/v1/query: long queries fit in a form body)."""

    def __init__(self, url: str, *, timeout_s: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s

    def query(self, promql: str, at: float) -> list[Sample]:
        form = urllib.parse.urlencode({"query": promql, "time": f"{at:.3f}"}).encode()
        request = urllib.request.Request(
            f"{self.url}/api/v1/query", data=form, method="POST",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                body = response.read()
        except urllib.error.HTTPError as exc:
            raise _http_error(exc) from None
        except (OSError, TimeoutError) as exc:  # refused, reset, DNS, timeout
            raise PrometheusUnavailable(f"{self.url}: {exc}") from None
        return parse_response(body)


def _http_error(exc: urllib.error.HTTPError) -> PrometheusError:
    try:
        detail = json.loads(exc.read()).get("error", "")
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

