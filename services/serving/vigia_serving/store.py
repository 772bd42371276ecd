"""The prediction log and the feedback store (SQLAlchemy 2: SQLite by default, PostgreSQL by URL).

Predictions are appended to an in-memory buffer on the hot path and written in batches
by a background flusher thread; ``close()`` writes what is left. Feedback is written
synchronously and acknowledged only after its transaction has committed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import orjson
from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Engine,
    ForeignKey,
    MetaData,
    String,
    Table,
    create_engine,
    event,
    func,
    insert,
    select,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

log = logging.getLogger(__name__)

metadata = MetaData()

predictions = Table(
    "vigia_predictions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
    Column("model", String(128), nullable=False),
    Column("version", String(64), nullable=False),
    Column("track", String(16), nullable=False),
    Column("features", JSON, nullable=True),
    Column("predicted", String(256), nullable=False),
    Column("probabilities", JSON, nullable=False),
)

feedback = Table(
    "vigia_feedback",
    metadata,
    Column("prediction_id", String(64), ForeignKey(predictions.c.id), primary_key=True),
    Column("label", String(256), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False, index=True),
)


@dataclass(frozen=True)
class PredictionRecord:
    """One logged prediction; ``features`` is None when feature logging is off for it."""

    id: str
    created_at: datetime
    model: str
    version: str
    track: str
    features: dict[str, Any] | None
    predicted: str
    probabilities: dict[str, float]


@dataclass(frozen=True)
class FeedbackItem:
    prediction_id: str
    label: str


@dataclass(frozen=True)
class FeedbackResult:
    """What happened to one feedback item; ``duplicate`` is a repeat of a stored label."""

    prediction_id: str
    label: str
    predicted: str
    duplicate: bool


class UnknownPredictionError(LookupError):
    def __init__(self, index: int, prediction_id: str) -> None:
        super().__init__(f"no prediction with id {prediction_id!r}")
        self.index = index
        self.prediction_id = prediction_id


class FeedbackConflictError(ValueError):
    def __init__(self, index: int, prediction_id: str, stored: str, given: str) -> None:
        super().__init__(
            f"prediction {prediction_id!r} already has label {stored!r}, not {given!r}"
        )
        self.index = index
        self.prediction_id = prediction_id


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL (concurrent workers) with full fsync."""
    if url.startswith("sqlite"):
        path = make_url(url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, json_serializer=_dumps)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(
        url, pool_pre_ping=True, pool_size=4, max_overflow=4, json_serializer=_dumps
    )


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class PredictionStore:
    """Buffered prediction log plus durable feedback, over one SQLAlchemy engine."""

    def __init__(
        self,
        url: str,
        *,
        flush_interval_s: float = 0.5,
        max_buffered: int = 200_000,
    ) -> None:
        self.engine = make_engine(url)
        self.flush_interval_s = flush_interval_s
        self.max_buffered = max_buffered
        self.dropped = 0
        self._buffer: list[PredictionRecord] = []
        self._pending: set[str] = set()
        self._buffer_lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def create_tables(self) -> None:
        try:
            metadata.create_all(self.engine)
        except SQLAlchemyError:
            # Another worker or replica created them between our check and our CREATE.
            time.sleep(0.5)
            metadata.create_all(self.engine)

    def start(self) -> None:
        """Create the tables if needed and start the background flusher."""
        self.create_tables()
        self._thread = threading.Thread(target=self._run, name="vigia-flusher", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop the flusher and write every buffered prediction."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.flush()
        self.engine.dispose()

    def log(self, records: Sequence[PredictionRecord]) -> None:
        """Queue predictions for the next flush (cheap: the hot path calls it)."""
        with self._buffer_lock:
            self._buffer.extend(records)
            self._pending.update(r.id for r in records)
            overflow = len(self._buffer) - self.max_buffered
            if overflow > 0:
                # The database has been unreachable for a long while: keep memory bounded.
                self._pending.difference_update(r.id for r in self._buffer[:overflow])
                del self._buffer[:overflow]
                self.dropped += overflow
                log.error("prediction log buffer full, dropped %d oldest rows", overflow)

    def buffered(self) -> int:
        with self._buffer_lock:
            return len(self._buffer)

    def flush(self) -> int:
        """Write buffered predictions in one transaction; on failure they stay buffered."""
        with self._flush_lock:
            with self._buffer_lock:
                batch, self._buffer = self._buffer, []
            if not batch:
                return 0
            try:
                with self.engine.begin() as conn:
                    conn.execute(insert(predictions), [_row(r) for r in batch])
            except Exception:
                with self._buffer_lock:
                    self._buffer[:0] = batch
                raise
            with self._buffer_lock:
                self._pending.difference_update(r.id for r in batch)
            return len(batch)

    def record_feedback(self, items: Sequence[FeedbackItem]) -> list[FeedbackResult]:
        """Store labels for logged predictions, all or nothing, and return once committed.

        Raises UnknownPredictionError or FeedbackConflictError (nothing is stored then).
        """
        with self._buffer_lock:
            unflushed = any(item.prediction_id in self._pending for item in items)
        if unflushed:
            self.flush()
        try:
            return self._store_feedback(items)
        except IntegrityError:
            # A concurrent request stored the same id between our read and our insert.
            return self._store_feedback(items)

    def _store_feedback(self, items: Sequence[FeedbackItem]) -> list[FeedbackResult]:
        ids = list({item.prediction_id for item in items})
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            predicted = dict(
                conn.execute(
                    select(predictions.c.id, predictions.c.predicted).where(
                        predictions.c.id.in_(ids)
                    )
                ).all()
            )
            stored = dict(
                conn.execute(
                    select(feedback.c.prediction_id, feedback.c.label).where(
                        feedback.c.prediction_id.in_(ids)
                    )
                ).all()
            )
            results, new_rows = _resolve(items, predicted, stored, now)
            if new_rows:
                conn.execute(insert(feedback), new_rows)
        return results

    def count(self, what: Literal["predictions", "feedback"] = "predictions") -> int:
        table = predictions if what == "predictions" else feedback
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(table)).scalar_one())

    def prediction_ids(self) -> set[str]:
        with self.engine.connect() as conn:
            return set(conn.execute(select(predictions.c.id)).scalars())

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.flush_interval_s)
            self._wake.clear()
            try:
                self.flush()
            except Exception:
                log.exception("prediction log flush failed; will retry")


def _resolve(
    items: Iterable[FeedbackItem],
    predicted: dict[str, str],
    stored: dict[str, str],
    now: datetime,
) -> tuple[list[FeedbackResult], list[dict[str, Any]]]:
    results: list[FeedbackResult] = []
    new_rows: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        pid, label = item.prediction_id, item.label
        if pid not in predicted:
            raise UnknownPredictionError(index, pid)
        previous = stored.get(pid)
        if previous is not None and previous != label:
            raise FeedbackConflictError(index, pid, previous, label)
        results.append(FeedbackResult(pid, label, predicted[pid], previous is not None))
        if previous is None:
            stored[pid] = label
            new_rows.append({"prediction_id": pid, "label": label, "received_at": now})
    return results, new_rows


def _row(record: PredictionRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "created_at": record.created_at,
        "model": record.model,
        "version": record.version,
        "track": record.track,
        "features": record.features,
        "predicted": record.predicted,
        "probabilities": record.probabilities,
    }
