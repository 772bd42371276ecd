"""POST /telemetry: aggregates from device runners and browser pages, opt-in on both sides.

Mounted only with VIGIA_TELEMETRY=true. A report (vigia.telemetry: counts on the training
bins, never an input) is checked against the served model and folded into the server's
monitoring families under ``source="edge"|"browser"``, so the recording rules and the
operator's conditions judge devices' traffic with the server's. Bounded: at most
MAX_REPORT_BYTES per body (413) and ``reports_per_minute`` per server process (429 with
Retry-After); a report that does not fit is 422 naming the field, one for another version
409 naming ``version``.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from vigia import metrics
from vigia.telemetry import (
    MAX_REPORT_BYTES,
    OUTCOMES,
    Expected,
    Report,
    ReportError,
    parse_report,
)

from .app import ServerState, error_response, json_response, read_body, unavailable
from .monitoring import MonitoringFamilies
from .payloads import TooLargeError, UnsupportedMediaTypeError


class RateLimit:
    """A token bucket: ``per_minute`` reports, refilled continuously."""

    def __init__(self, per_minute: int) -> None:
        self.capacity = float(per_minute)
        self.tokens = float(per_minute)
        self.rate = per_minute / 60.0
        self.stamp = time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> float:
        """0 when a report may pass, else the seconds until one may."""
        with self._lock:
            now = time.monotonic()
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            if self.tokens >= 1:
                self.tokens -= 1
                return 0.0
            return (1 - self.tokens) / self.rate


def expected_of(runtime: Any) -> Expected:
    """What a report for the served model must name."""
    meta = runtime.bundle.metadata
    profile = meta.profile
    return Expected(
        model=meta.name,
        version=meta.version,
        classes=tuple(meta.classes),
        bins={name: tuple(profile.bin_labels(name)) for name in meta.schema.names},
    )


def start_at_zero(families: MonitoringFamilies, runtime: Any) -> None:
    """Every series a device may report, exported at zero before its first report: Prometheus
    counts an increase from a series' first sample on, so a report must not create one."""
    expected = expected_of(runtime)
    for source in metrics.DEVICE_SOURCES:
        labels = (*families.base, source)
        for label in expected.classes:
            families.predictions.labels(*labels, label)
        families.confidence.labels(*labels)
        for name, bins in expected.bins.items():
            for label in bins:
                families.bins.labels(*labels, name, label)
            families.missing.labels(*labels, name)
            families.out_of_range.labels(*labels, name)
        for outcome in OUTCOMES:
            families.feedback.labels(*labels, outcome)


def fold(families: MonitoringFamilies, report: Report) -> None:
    """Add a report's counts to the monitoring families under its source."""
    labels = (*families.base, report.source)
    for label, count in report.classes.items():
        if count:
            families.predictions.labels(*labels, label).inc(count)
    _fold_confidence(families, labels, report)
    for name, counts in report.features.items():
        for label, count in counts.bins.items():
            if count:
                families.bins.labels(*labels, name, label).inc(count)
        if counts.missing:
            families.missing.labels(*labels, name).inc(counts.missing)
        if counts.out_of_range:
            families.out_of_range.labels(*labels, name).inc(counts.out_of_range)
    for outcome, count in report.feedback.items():
        if count:
            families.feedback.labels(*labels, outcome).inc(count)


def _fold_confidence(families: MonitoringFamilies, labels: tuple[str, ...], report: Report) -> None:
    if not report.predictions:
        return
    child = families.confidence.labels(*labels)
    # prometheus_client has no public call to add n observations to a bucket; its child keeps
    # one (non-cumulative) value per bucket and the sum, as the report does
    # (tests/unit/serving/test_telemetry.py pins this against the client's exposition).
    for value, count in zip(child._buckets, report.confidence_buckets, strict=True):
        if count:
            value.inc(count)
    child._sum.inc(report.confidence_sum)


def build_telemetry_route(state: ServerState, reports_per_minute: int) -> Any:
    """The POST /telemetry endpoint over ``state`` (added to the app by the service)."""
    limit = RateLimit(reports_per_minute)

    async def telemetry(request: Request) -> Response:
        runtime = await state.loaded_runtime()
        if runtime is None:
            return unavailable(state, state.error or "the model is still loading")
        if runtime.monitor is None:
            return error_response(404, "monitoring is off on this server")
        wait = limit.take()
        if wait:
            headers = {"Retry-After": str(max(1, round(wait)))}
            return json_response({"error": "too many telemetry reports"}, 429, headers)
        try:
            body = await read_body(request, MAX_REPORT_BYTES)
        except TooLargeError as exc:
            return error_response(413, str(exc), exc.field)
        except UnsupportedMediaTypeError as exc:
            return error_response(415, str(exc), exc.field)
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            return error_response(400, "body: not JSON", "body")
        try:
            report = parse_report(data, expected_of(runtime))
        except ReportError as exc:
            return error_response(409 if exc.field == "version" else 422, str(exc), exc.field)
        fold(runtime.monitor.families, report)
        return json_response({"accepted": report.predictions, "source": report.source})

    return telemetry
