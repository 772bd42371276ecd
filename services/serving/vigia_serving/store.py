"""The prediction log and the feedback store (SQLAlchemy 2: SQLite by default, PostgreSQL by URL).

Predictions are appended to an in-memory buffer on the hot path and written in batches
by a background flusher thread; ``close()`` writes what is left. Feedback is written
synchronously and acknowledged only after its transaction has committed.

Every row carries the namespace and model of the server that logged it; feedback is looked
up among this store's own (``namespace``, ``model``) only, in chunks of ``LOOKUP_CHUNK`` ids;
what a feedback item means against what is stored is vigia_serving.feedback's. The labelling
queue (``pending``) lists this store's own predictions without feedback.

Faults: while the database is unreachable (at start too) the buffer is kept (bounded; every
row dropped beyond the bound is counted and logged), ``healthy`` is False and ``on_health``
reports it (a metric, not readiness: the server keeps answering predictions). A row the database
refuses is found by bisection and dropped alone (counted), so it never blocks the rest.
A shutdown that cannot reach the database writes the buffer to a spill file, which the
next start reads back. Rows older than the retention period are deleted.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import orjson
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Engine,
    Float,
    ForeignKey,
    Index,
    MetaData,
    String,
    Table,
    create_engine,
    delete,
    event,
    func,
    insert,
    inspect,
    null,
    select,
    text,
)
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import (
    DisconnectionError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.schema import CreateIndex, CreateTable

from .feedback import (
    FeedbackConflictError,
    FeedbackItem,
    FeedbackResult,
    Predicted,
    Stored,
    UnknownPredictionError,
    Writes,
    resolve,
)

# Part of this module's interface (the store takes items, returns results, raises these).
__all__ = [
    "FeedbackConflictError", "FeedbackItem", "FeedbackResult", "PendingPrediction",
    "PredictionRecord", "PredictionStore", "UnknownPredictionError",
]

log = logging.getLogger(__name__)

metadata = MetaData()

predictions = Table(
    "vigia_predictions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
    # Who made the prediction: one store may serve models of the same name in several
    # namespaces; every reader filters on both (docs/serving.md, "Namespaces").
    Column("namespace", String(253), nullable=False, server_default=""),
    Column("model", String(128), nullable=False),
    Column("version", String(64), nullable=False),
    Column("track", String(16), nullable=False),
    Column("features", JSON, nullable=True),
    Column("predicted", String(256), nullable=False),
    Column("probabilities", JSON, nullable=False),
    # The highest probability, so the labelling queue can ask for the least sure first
    # through an index (null in rows logged before the column existed).
    Column("confidence", Float, nullable=True),
    Index("ix_vigia_predictions_owner", "namespace", "model", "created_at"),
    Index("ix_vigia_predictions_queue", "namespace", "model", "confidence"),
)
OWNER_INDEX = "ix_vigia_predictions_owner"
QUEUE_INDEX = "ix_vigia_predictions_queue"

feedback = Table(
    "vigia_feedback",
    metadata,
    Column("prediction_id", String(64), ForeignKey(predictions.c.id), primary_key=True),
    # The true class, when known: given, or implied by "correct" (the predicted class) or by
    # "wrong" for a model of two classes. Null for "wrong" among more classes.
    Column("label", String(256), nullable=True),
    Column("received_at", DateTime(timezone=True), nullable=False, index=True),
    # Whether the prediction was right (null only in rows stored before the column existed
    # and not yet filled in by the migration).
    Column("correct", Boolean, nullable=True),
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
    namespace: str = "default"


@dataclass(frozen=True)
class PendingPrediction:
    """A logged prediction without feedback, as the labelling queue shows it."""

    id: str
    created_at: datetime
    version: str
    track: str
    features: dict[str, Any] | None
    predicted: str
    probabilities: dict[str, float]
    confidence: float | None


PendingOrder = Literal["uncertain", "random"]
PENDING_ORDERS: tuple[PendingOrder, ...] = ("uncertain", "random")


# The database could not be reached (as opposed to refusing a row): keep rows buffered.
UNREACHABLE = (OperationalError, InterfaceError, DisconnectionError, PoolTimeoutError)
DROP_BUFFER_FULL = "buffer_full"
DROP_REFUSED = "refused"
PRUNE_CHUNK = 500
# Ids per ``IN (...)``: far below SQLite's smallest default limit of bound variables (999
# before 3.32), so a feedback call of any allowed size is a few queries, never an error.
LOOKUP_CHUNK = 500
IDLE_PING_S = 5.0

DropCallback = Callable[[str, int], None]
# Called after every turn of the flusher with (database reachable, rows buffered).
HealthCallback = Callable[[bool, int], None]


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
        retention: timedelta | None = None,
        prune_interval_s: float = 3600.0,
        spill_dir: Path | None = None,
        on_drop: DropCallback | None = None,
        namespace: str | None = None,
        model: str | None = None,
        on_health: HealthCallback | None = None,
        feedback_reads_features: bool = False,
    ) -> None:
        self.engine = make_engine(url)
        # Feedback reads each prediction's logged inputs only when segments need them (their
        # JSON costs the lookup a third more on SQLite: benchmarks/feedback_lookup.py).
        self.feedback_reads_features = feedback_reads_features
        # Feedback is looked up among this namespace's and model's predictions only
        # (None: any; for tools reading the whole log).
        self.namespace = namespace
        self.model = model
        self.flush_interval_s = flush_interval_s
        self.max_buffered = max_buffered
        self.retention = retention
        self.prune_interval_s = prune_interval_s
        self.spill_dir = spill_dir
        self.on_drop = on_drop
        self.dropped = 0
        self.pruned = 0
        # Set while writes fail because the database cannot be reached.
        self.unreachable_since: float | None = None
        self.on_health = on_health
        self._tables_ready = False
        self._next_prune = 0.0
        self._next_ping = 0.0
        self._buffer: list[PredictionRecord] = []
        self._pending: set[str] = set()
        self._buffer_lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def create_tables(self) -> None:
        """Create the tables, or add what an older server's tables lack."""
        try:
            self._create_or_migrate()
        except UNREACHABLE:
            raise
        except SQLAlchemyError:
            # Another worker or replica created them between our check and our CREATE.
            time.sleep(0.5)
            self._create_or_migrate()
        self._tables_ready = True

    def _create_or_migrate(self) -> None:
        metadata.create_all(self.engine)
        with self.engine.begin() as conn:
            migrate_owner(conn)
            migrate_confidence(conn)
            migrate_correct(conn)
        relax_label(self.engine)

    def _ensure_tables(self) -> None:
        """Create (or migrate) the tables once; raises UNREACHABLE while it cannot."""
        if self._tables_ready:
            return
        try:
            self.create_tables()
        except UNREACHABLE:
            self._mark_unreachable()
            raise

    def _mark_unreachable(self) -> None:
        if self.unreachable_since is None:
            self.unreachable_since = time.monotonic()

    @property
    def healthy(self) -> bool:
        return self.unreachable_since is None

    def start(self) -> None:
        """Read back spilled rows, create the tables, start the background flusher.

        A database that cannot be reached does not stop the start: predictions are
        buffered and the flusher creates the tables once it answers."""
        self._load_spilled()
        try:
            self._ensure_tables()
        except UNREACHABLE as exc:
            log.error("prediction log: database unreachable at start (%s: %s); buffering",
                      type(exc).__name__, _short(exc))
        if self.on_health is not None:
            self.on_health(self.healthy, self.buffered())
        self._thread = threading.Thread(target=self._run, name="vigia-flusher", daemon=True)
        self._thread.start()

    def close(self, flush_timeout_s: float = 10.0) -> None:
        """Stop the flusher and write every buffered prediction, retrying for up to
        ``flush_timeout_s``; what still cannot be written goes to a spill file."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        deadline = time.monotonic() + flush_timeout_s
        while True:
            try:
                self.flush()
                break
            except Exception as exc:
                if time.monotonic() >= deadline:
                    self._spill(exc)
                    break
                time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))
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
        if overflow > 0:
            self._dropped(DROP_BUFFER_FULL, overflow)

    def _dropped(self, reason: str, rows: int) -> None:
        self.dropped += rows
        log.error("prediction log: dropped %d rows (%s)", rows, reason)
        if self.on_drop is not None:
            self.on_drop(reason, rows)

    def buffered(self) -> int:
        with self._buffer_lock:
            return len(self._buffer)

    def flush(self) -> int:
        """Write buffered predictions, in one transaction when all goes well. Rows the
        database refuses are dropped one by one (counted); if it cannot be reached, what
        was not written stays buffered and the error is raised."""
        with self._flush_lock:
            with self._buffer_lock:
                batch, self._buffer = self._buffer, []
            if not batch:
                return 0
            done: list[PredictionRecord] = []
            try:
                self._ensure_tables()
                self._write(batch, done)
            except UNREACHABLE:
                self._mark_unreachable()
                written = {r.id for r in done}
                with self._buffer_lock:
                    self._buffer[:0] = [r for r in batch if r.id not in written]
                    self._pending.difference_update(written)
                raise
            self.unreachable_since = None
            with self._buffer_lock:
                self._pending.difference_update(r.id for r in batch)
            return len(batch)

    def _write(self, rows: list[PredictionRecord], done: list[PredictionRecord]) -> None:
        """Insert ``rows`` (appending those handled to ``done``); a refused batch is split
        in halves until the refused rows are alone, then they are dropped."""
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(predictions), [_row(r) for r in rows])
        except UNREACHABLE:
            raise
        except Exception as exc:
            if len(rows) == 1:
                log.error("prediction %s refused by the database: %s", rows[0].id, exc)
                self._dropped(DROP_REFUSED, 1)
                done.extend(rows)
                return
            middle = len(rows) // 2
            self._write(rows[:middle], done)
            self._write(rows[middle:], done)
            return
        done.extend(rows)

    def prune(self, now: datetime | None = None) -> int:
        """Delete predictions (and their feedback) older than the retention period."""
        if self.retention is None:
            return 0
        cutoff = (now or datetime.now(UTC)) - self.retention
        total = 0
        while True:
            with self.engine.begin() as conn:
                ids = list(
                    conn.execute(
                        select(predictions.c.id)
                        .where(predictions.c.created_at < cutoff)
                        .limit(PRUNE_CHUNK)
                    ).scalars()
                )
                if not ids:
                    break
                conn.execute(delete(feedback).where(feedback.c.prediction_id.in_(ids)))
                conn.execute(delete(predictions).where(predictions.c.id.in_(ids)))
            total += len(ids)
        if total:
            self.pruned += total
            log.info("prediction log: deleted %d rows older than %s", total, cutoff.isoformat())
        return total

    def _spill(self, exc: Exception) -> None:
        with self._buffer_lock:
            batch, self._buffer = self._buffer, []
        if not batch:
            return
        if self.spill_dir is None:
            log.error("prediction log: database unreachable at shutdown (%s); %d rows lost",
                      type(exc).__name__, len(batch))
            self._dropped(DROP_BUFFER_FULL, len(batch))
            return
        self.spill_dir.mkdir(parents=True, exist_ok=True)
        path = self.spill_dir / f"predictions-{time.time_ns()}-{os.getpid()}.jsonl"
        with path.open("wb") as out:
            for record in batch:
                out.write(orjson.dumps(asdict(record)) + b"\n")
            out.flush()
            os.fsync(out.fileno())
        log.error("prediction log: database unreachable at shutdown (%s); %d rows spilled to %s",
                  type(exc).__name__, len(batch), path)

    def _load_spilled(self) -> None:
        if self.spill_dir is None or not self.spill_dir.is_dir():
            return
        for path in sorted(self.spill_dir.glob("predictions-*.jsonl")):
            claimed = path.with_suffix(f".claimed-{os.getpid()}")
            try:
                path.rename(claimed)  # another worker may claim it first
            except OSError:
                continue
            records = [_record(orjson.loads(line)) for line in claimed.read_bytes().splitlines()]
            self.log(records)
            claimed.unlink()
            log.info("prediction log: read back %d spilled rows from %s", len(records), path)

    def record_feedback(
        self, items: Sequence[FeedbackItem], tolerance: float = 0.0
    ) -> list[FeedbackResult]:
        """Store labels for logged predictions, all or nothing, and return once committed.
        A regressor's true value is correct within ``tolerance`` of the predicted one.

        Raises UnknownPredictionError or FeedbackConflictError (nothing is stored then).
        """
        self._ensure_tables()
        with self._buffer_lock:
            unflushed = any(item.prediction_id in self._pending for item in items)
        if unflushed:
            self.flush()
        try:
            return self._store_feedback(items, tolerance)
        except (IntegrityError, _ChangedMeanwhile):
            # A concurrent request stored the same id between our read and our write.
            return self._store_feedback(items, tolerance)

    def _store_feedback(
        self, items: Sequence[FeedbackItem], tolerance: float
    ) -> list[FeedbackResult]:
        ids = list(dict.fromkeys(item.prediction_id for item in items))
        now = datetime.now(UTC)
        predicted: dict[str, Predicted] = {}
        stored: dict[str, Stored] = {}
        with self.engine.begin() as conn:
            for chunk in chunked(ids, LOOKUP_CHUNK):
                predicted.update(self._predicted(conn, chunk))
                for pid, label, correct in conn.execute(
                    select(feedback.c.prediction_id, feedback.c.label, feedback.c.correct)
                    .where(feedback.c.prediction_id.in_(chunk))
                ):
                    if correct is None:  # stored by a server older than the column
                        made = predicted.get(pid)
                        correct = made is not None and label == made.label
                    stored[pid] = Stored(label, bool(correct))
            results, writes = resolve(items, predicted, stored, now, tolerance)
            _write_feedback(conn, writes)
        return results

    def _predicted(self, conn: Connection, ids: Sequence[str]) -> Iterator[tuple[str, Predicted]]:
        """This store's own predictions among ``ids``. The owner is checked here, not in
        the WHERE: there a planner may pick the (namespace, model) index and scan the
        model's every row instead of the ids."""
        features = (predictions.c.features if self.feedback_reads_features
                    else null().label("features"))
        query = select(
            predictions.c.id, predictions.c.predicted, predictions.c.version,
            predictions.c.track, predictions.c.namespace, predictions.c.model,
            predictions.c.probabilities, features,
        ).where(predictions.c.id.in_(ids))
        for pid, label, version, track, namespace, model, probabilities, inputs in (
                conn.execute(query)):
            if self._owns(namespace, model):
                yield pid, Predicted(label, version, track, tuple(probabilities or ()), inputs)

    def pending(self, limit: int, order: PendingOrder = "uncertain") -> list[PendingPrediction]:
        """Up to ``limit`` of this store's logged predictions without feedback: the least
        confident first (rows logged before confidence was recorded last), or at random.

        At random: prediction ids are random tokens, so the ids following a random token
        (wrapping around) are a random sample, read through the primary key; ``ORDER BY
        random()`` would read every unlabelled row of the model for each call."""
        p = predictions
        columns = (p.c.id, p.c.created_at, p.c.version, p.c.track, p.c.features,
                   p.c.predicted, p.c.probabilities, p.c.confidence)
        query = (
            select(*columns)
            .select_from(p.outerjoin(feedback, feedback.c.prediction_id == p.c.id))
            .where(feedback.c.prediction_id.is_(None))
            .limit(limit)
        )
        with self.engine.connect() as conn:
            if order == "random":
                # SQLite has no statistics (no ANALYZE): given the owner's columns it takes
                # their index and sorts all the model's rows by id. Compared as expressions
                # there, they leave it the primary key; PostgreSQL's statistics choose well
                # (and misjudge the expressions: measured in benchmarks/labelling_queue.py).
                sqlite = self.engine.dialect.name == "sqlite"
                query = query.where(*self._owner_filter(indexed=not sqlite))
                pivot = secrets.token_urlsafe(16)
                rows = list(conn.execute(query.where(p.c.id >= pivot).order_by(p.c.id)))
                if len(rows) < limit:
                    rows += conn.execute(query.where(p.c.id < pivot).order_by(p.c.id)
                                         .limit(limit - len(rows))).all()
            else:
                rows = list(conn.execute(query.where(*self._owner_filter()).order_by(
                    p.c.confidence.asc().nulls_last(), p.c.created_at.desc())))
        return [PendingPrediction(pid, _utc(created), *rest) for pid, created, *rest in rows]

    def _owner_filter(self, indexed: bool = True) -> list[Any]:
        where = []
        for column, value in ((predictions.c.namespace, self.namespace),
                              (predictions.c.model, self.model)):
            if value is not None:
                where.append((column if indexed else column.concat("")) == value)
        return where

    def _owns(self, namespace: str, model: str) -> bool:
        return self.namespace in (None, namespace) and self.model in (None, model)

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
                if self.flush() == 0:
                    self._check_idle()
            except Exception as exc:
                log.error("prediction log flush failed (%s: %s); %d rows kept, will retry",
                          type(exc).__name__, _short(exc), self.buffered())
                continue
            finally:
                if self.on_health is not None:
                    self.on_health(self.healthy, self.buffered())
            if self.retention is not None and time.monotonic() >= self._next_prune:
                self._next_prune = time.monotonic() + self.prune_interval_s
                try:
                    self.prune()
                except Exception as exc:
                    log.error("prediction log pruning failed: %s", _short(exc))


    def _check_idle(self) -> None:
        """With nothing to write, ask the database now and then whether it is there, so
        that ``healthy`` (the metric) follows it even without traffic."""
        now = time.monotonic()
        if now < self._next_ping:
            return
        self._next_ping = now + IDLE_PING_S
        try:
            self._ensure_tables()
            with self.engine.connect() as conn:
                conn.execute(select(1))
        except UNREACHABLE:
            self._mark_unreachable()
            raise
        self.unreachable_since = None


def migrate_owner(conn: Connection) -> None:
    """Give a prediction log created before namespaces its ``namespace`` column and index.

    Rows logged before have namespace '' (unknown): no retraining reads them
    (docs/serving.md says how to claim them)."""
    columns = {c["name"] for c in inspect(conn).get_columns(predictions.name)}
    if "namespace" not in columns:
        conn.execute(text(
            f"ALTER TABLE {predictions.name} ADD COLUMN namespace VARCHAR(253) NOT NULL DEFAULT ''"
        ))
        log.info("prediction log: added the namespace column to %s", predictions.name)
    indexes = {i["name"] for i in inspect(conn).get_indexes(predictions.name)}
    if OWNER_INDEX not in indexes:
        conn.execute(text(
            f"CREATE INDEX IF NOT EXISTS {OWNER_INDEX} "
            f"ON {predictions.name} (namespace, model, created_at)"
        ))


def migrate_confidence(conn: Connection) -> None:
    """Give a prediction log created before the labelling queue its ``confidence`` column
    and index; older rows keep a null confidence (the queue shows them last)."""
    columns = {c["name"] for c in inspect(conn).get_columns(predictions.name)}
    if "confidence" not in columns:
        conn.execute(text(f"ALTER TABLE {predictions.name} ADD COLUMN confidence FLOAT"))
        log.info("prediction log: added the confidence column to %s", predictions.name)
    # Asked first: a namespace's own login (docs/security.md) may not create indexes.
    if QUEUE_INDEX not in {i["name"] for i in inspect(conn).get_indexes(predictions.name)}:
        conn.execute(text(
            f"CREATE INDEX IF NOT EXISTS {QUEUE_INDEX} "
            f"ON {predictions.name} (namespace, model, confidence)"
        ))


def migrate_correct(conn: Connection) -> None:
    """Give a feedback table created before "correct" feedback its ``correct`` column,
    filled in for the labels stored before."""
    columns = {c["name"] for c in inspect(conn).get_columns(feedback.name)}
    if "correct" in columns:
        return
    conn.execute(text(f"ALTER TABLE {feedback.name} ADD COLUMN correct BOOLEAN"))
    conn.execute(text(
        f"UPDATE {feedback.name} SET correct = (label = (SELECT p.predicted FROM "
        f"{predictions.name} p WHERE p.id = {feedback.name}.prediction_id))"
    ))
    log.info("prediction log: added the correct column to %s", feedback.name)


def relax_label(engine: Engine) -> None:
    """Let a feedback table created before "wrong" without a label take a null label.
    SQLite cannot drop a NOT NULL: the table is rebuilt, in one locked transaction."""
    if _label_nullable(engine):
        return
    if engine.dialect.name != "sqlite":
        with engine.begin() as conn:
            conn.execute(text(f"ALTER TABLE {feedback.name} ALTER COLUMN label DROP NOT NULL"))
        return
    old = f"{feedback.name}_before_correct"
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("BEGIN IMMEDIATE")  # another worker may be at the same
        cursor.execute(f"SELECT \"notnull\" FROM pragma_table_info('{feedback.name}') "
                       "WHERE name = 'label'")
        if cursor.fetchone() == (1,):
            for index in feedback.indexes:
                cursor.execute(f"DROP INDEX IF EXISTS {index.name}")
            cursor.execute(f"ALTER TABLE {feedback.name} RENAME TO {old}")
            cursor.execute(str(CreateTable(feedback).compile(dialect=engine.dialect)))
            for index in feedback.indexes:
                cursor.execute(str(CreateIndex(index).compile(dialect=engine.dialect)))
            names = ", ".join(c.name for c in feedback.columns)
            cursor.execute(f"INSERT INTO {feedback.name} ({names}) SELECT {names} FROM {old}")
            cursor.execute(f"DROP TABLE {old}")
            log.info("prediction log: %s takes feedback without a label", feedback.name)
        raw.commit()
    except Exception:
        raw.rollback()
        raise
    finally:
        raw.close()


def _label_nullable(engine: Engine) -> bool:
    with engine.connect() as conn:
        columns = inspect(conn).get_columns(feedback.name)
    return any(c["name"] == "label" and c["nullable"] for c in columns)


def _utc(moment: datetime) -> datetime:
    """SQLite gives back times without their zone; they were written in UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def chunked(values: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


def _short(exc: Exception) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else ""


def _record(data: dict[str, Any]) -> PredictionRecord:
    data["created_at"] = datetime.fromisoformat(data["created_at"])
    return PredictionRecord(**data)


class _ChangedMeanwhile(RuntimeError):
    """A row this transaction read was changed by another before it wrote."""


def _write_feedback(conn: Connection, writes: Writes) -> None:
    """Insert the new rows; a completed row replaces the stored one (delete and insert:
    the grants of docs/security.md allow no UPDATE), only if it still lacks its label."""
    if writes.replaced:
        deleted = conn.execute(
            delete(feedback).where(
                feedback.c.prediction_id.in_(writes.replaced), feedback.c.label.is_(None)
            )
        ).rowcount
        if deleted != len(writes.replaced):
            raise _ChangedMeanwhile()
    if writes.rows:
        conn.execute(insert(feedback), list(writes.rows.values()))


def _row(record: PredictionRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "created_at": record.created_at,
        "namespace": record.namespace,
        "model": record.model,
        "version": record.version,
        "track": record.track,
        "features": record.features,
        "predicted": record.predicted,
        "probabilities": record.probabilities,
        "confidence": max(record.probabilities.values(), default=None),
    }
