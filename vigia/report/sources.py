"""Where a report's data comes from, behind two small interfaces.

``PredictionSource`` gives the logged predictions of one model in a time window, with
the label fed back for each (None when no feedback came). ``StoreSource`` reads the
model server's prediction store (SQLite or PostgreSQL) by reflecting its tables, so
their definition stays in one place (vigia_serving.store).

``MetricsSource`` answers PromQL range queries; ``PrometheusSource`` asks a Prometheus
server over HTTP. ``NoMetrics`` stands for "no Prometheus given": the report then says
so in the sections that need it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx
import numpy as np
import pandas as pd
from sqlalchemy import MetaData, create_engine, inspect, select

# The model server's tables (defined in vigia_serving.store, reflected here).
PREDICTIONS_TABLE = "vigia_predictions"
FEEDBACK_TABLE = "vigia_feedback"
COLUMNS = ("id", "created_at", "version", "track", "features", "predicted", "probabilities")
FRAME_COLUMNS = (*COLUMNS, "label")


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("window: start and end need a time zone")
        if self.end <= self.start:
            raise ValueError(f"window: end {self.end} is not after start {self.start}")

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


class PredictionSource(Protocol):
    def predictions(self, model: str, window: Window) -> pd.DataFrame:
        """One row per prediction (FRAME_COLUMNS), oldest first; ``label`` may be None."""
        ...


class StoreSource:
    """The prediction store of the model server, read-only; with ``namespace``, only the
    rows of that namespace (a store shared by namespaces holds models of the same name)."""

    def __init__(self, url: str, namespace: str | None = None) -> None:
        self.engine = create_engine(url)
        self.namespace = namespace

    def predictions(self, model: str, window: Window) -> pd.DataFrame:
        present = inspect(self.engine)
        if not all(present.has_table(t) for t in (PREDICTIONS_TABLE, FEEDBACK_TABLE)):
            return pd.DataFrame(columns=list(FRAME_COLUMNS))  # no server has logged here yet
        tables = MetaData()
        tables.reflect(self.engine, only=[PREDICTIONS_TABLE, FEEDBACK_TABLE])
        p, f = tables.tables[PREDICTIONS_TABLE], tables.tables[FEEDBACK_TABLE]
        where = [p.c.model == model, p.c.created_at >= window.start, p.c.created_at < window.end]
        if self.namespace is not None:
            if "namespace" not in p.c:
                raise ValueError(f"namespace: {PREDICTIONS_TABLE} has no namespace column "
                                 "(written by a model server older than namespaced logs)")
            where.append(p.c.namespace == self.namespace)
        query = (
            select(*(p.c[name] for name in COLUMNS), f.c.label)
            .select_from(p.outerjoin(f, f.c.prediction_id == p.c.id))
            .where(*where)
            .order_by(p.c.created_at)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        frame = pd.DataFrame(rows, columns=list(FRAME_COLUMNS))
        frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
        return frame

    def close(self) -> None:
        self.engine.dispose()


class MetricsUnavailableError(RuntimeError):
    """No Prometheus, or it did not answer; the message says which."""


@dataclass(frozen=True)
class Series:
    labels: dict[str, str]
    times: pd.DatetimeIndex
    values: np.ndarray


class MetricsSource(Protocol):
    def range_query(self, query: str, window: Window, step_s: float) -> list[Series]: ...


class NoMetrics:
    def range_query(self, query: str, window: Window, step_s: float) -> list[Series]:
        raise MetricsUnavailableError("no Prometheus URL was given (--prometheus)")


class PrometheusSource:
    """Range queries against ``url`` (``/api/v1/query_range``)."""

    def __init__(self, url: str, *, timeout_s: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s

    def range_query(self, query: str, window: Window, step_s: float) -> list[Series]:
        step = max(step_s, 1.0)
        end = window.end.timestamp()
        # Prometheus evaluates at start + k * step: lay the grid back from the end, so the
        # window's latest moment is always one of the points (a short window's data can fall
        # entirely after the last point of a grid laid from the start).
        start = end - math.ceil((end - window.start.timestamp()) / step) * step
        params: dict[str, Any] = {
            "query": query,
            "start": start,
            "end": end,
            "step": f"{step:g}s",
        }
        try:
            answer = httpx.get(
                self.url + "/api/v1/query_range", params=params, timeout=self.timeout_s
            )
            body = answer.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise MetricsUnavailableError(
                f"Prometheus at {self.url} did not answer: {exc}"
            ) from exc
        if body.get("status") != "success":
            reason = body.get("error", answer.status_code)
            raise MetricsUnavailableError(f"Prometheus at {self.url} refused {query!r}: {reason}")
        return [_series(item) for item in body["data"]["result"]]


def _series(item: dict[str, Any]) -> Series:
    points = item.get("values", [])
    times = pd.to_datetime([float(t) for t, _ in points], unit="s", utc=True)
    values = np.array([float(v) for _, v in points], dtype=np.float64)
    return Series(dict(item.get("metric", {})), pd.DatetimeIndex(times), values)


def utc(text: str) -> datetime:
    """An ISO time; a time without zone is taken as UTC."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
