"""The prediction log and feedback store, on a real SQLite file."""

from __future__ import annotations

import sqlite3
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, event, inspect, select, text
from sqlalchemy.exc import OperationalError
from vigia_serving.store import (
    DROP_BUFFER_FULL,
    DROP_REFUSED,
    OWNER_INDEX,
    FeedbackConflictError,
    FeedbackItem,
    PredictionRecord,
    PredictionStore,
    UnknownPredictionError,
    predictions,
)
from vigia_testbed.net import free_port


def record(pid: str, predicted: str = "good", features: dict[str, object] | None = None) -> (
    PredictionRecord
):
    return PredictionRecord(
        pid, datetime.now(UTC), "m", "1", "stable", features, predicted,
        {"good": 0.9, "defective": 0.1},
    )


@pytest.fixture
def store(tmp_path: Path) -> PredictionStore:
    s = PredictionStore(f"sqlite:///{tmp_path}/log.db", flush_interval_s=60)
    s.create_tables()
    return s


def test_logged_predictions_are_written_on_flush(store: PredictionStore) -> None:
    store.log([record("a", features={"x": 1.5}), record("b")])
    assert store.count() == 0
    assert store.flush() == 2
    assert store.prediction_ids() == {"a", "b"}
    assert store.buffered() == 0


def test_close_writes_what_is_buffered(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/log.db"
    s = PredictionStore(url, flush_interval_s=60)
    s.start()
    s.log([record(str(i)) for i in range(500)])
    s.close()
    assert PredictionStore(url).count() == 500


def test_background_flusher_writes_without_being_asked(tmp_path: Path) -> None:
    s = PredictionStore(f"sqlite:///{tmp_path}/log.db", flush_interval_s=0.05)
    s.start()
    s.log([record("a")])
    for _ in range(200):
        if s.count() == 1:
            break
        import time

        time.sleep(0.05)
    assert s.count() == 1
    s.close()


def test_feedback_for_a_buffered_prediction_flushes_it_first(store: PredictionStore) -> None:
    store.log([record("a", predicted="good")])
    [result] = store.record_feedback([FeedbackItem("a", "defective")])
    assert (result.predicted, result.label, result.duplicate) == ("good", "defective", False)
    assert (result.version, result.track) == ("1", "stable")  # who predicted, from the log
    assert store.count("feedback") == 1


def test_same_label_twice_is_a_duplicate_not_an_error(store: PredictionStore) -> None:
    store.log([record("a")])
    store.record_feedback([FeedbackItem("a", "good")])
    [again] = store.record_feedback([FeedbackItem("a", "good")])
    assert again.duplicate
    assert store.count("feedback") == 1


def test_different_label_is_a_conflict(store: PredictionStore) -> None:
    store.log([record("a")])
    store.record_feedback([FeedbackItem("a", "good")])
    with pytest.raises(FeedbackConflictError) as info:
        store.record_feedback([FeedbackItem("a", "defective")])
    assert info.value.index == 0


def test_unknown_id_stores_nothing_of_the_batch(store: PredictionStore) -> None:
    store.log([record("a")])
    with pytest.raises(UnknownPredictionError) as info:
        store.record_feedback([FeedbackItem("a", "good"), FeedbackItem("zzz", "good")])
    assert (info.value.index, info.value.prediction_id) == (1, "zzz")
    assert store.count("feedback") == 0


def test_a_refused_row_is_dropped_alone(tmp_path: Path) -> None:
    drops: list[tuple[str, int]] = []
    s = PredictionStore(f"sqlite:///{tmp_path}/log.db", on_drop=lambda r, n: drops.append((r, n)))
    s.create_tables()
    s.log([record("a")])
    s.flush()
    # "a" again (primary key taken) and a feature the JSON column cannot hold (2**70).
    rows = [record(f"r{i}") for i in range(10)]
    s.log([*rows[:3], record("a"), *rows[3:7], record("big", features={"x": 2**70}), *rows[7:]])
    assert s.flush() == 12
    assert s.prediction_ids() == {"a", *(r.id for r in rows)}
    assert s.buffered() == 0
    assert drops == [(DROP_REFUSED, 1), (DROP_REFUSED, 1)]
    assert s.healthy


def unreachable_url() -> str:
    return f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/none?connect_timeout=2"


def test_an_unreachable_database_keeps_rows_and_is_unhealthy(tmp_path: Path) -> None:
    s = PredictionStore(unreachable_url())
    s.log([record("a"), record("b")])
    with pytest.raises(OperationalError):
        s.flush()
    assert s.buffered() == 2
    assert not s.healthy


def test_shutdown_without_database_spills_and_the_next_start_reads_back(tmp_path: Path) -> None:
    spill = tmp_path / "unflushed"
    down = PredictionStore(unreachable_url(), spill_dir=spill)
    down.log([record("a", features={"x": 1.5}), record("b")])
    down.close(flush_timeout_s=0)
    assert len(list(spill.glob("*.jsonl"))) == 1

    up = PredictionStore(f"sqlite:///{tmp_path}/log.db", spill_dir=spill, flush_interval_s=60)
    up.start()
    up.close()
    assert up.prediction_ids() == {"a", "b"}
    assert list(spill.iterdir()) == []


def test_shutdown_without_database_or_spill_dir_counts_the_loss(tmp_path: Path) -> None:
    drops: list[tuple[str, int]] = []
    down = PredictionStore(unreachable_url(), on_drop=lambda r, n: drops.append((r, n)))
    down.log([record("a"), record("b")])
    down.close(flush_timeout_s=0)
    assert drops == [(DROP_BUFFER_FULL, 2)]


def test_old_rows_and_their_feedback_are_pruned(tmp_path: Path) -> None:
    s = PredictionStore(f"sqlite:///{tmp_path}/log.db", retention=timedelta(days=7))
    s.create_tables()
    old = datetime.now(UTC) - timedelta(days=8)
    s.log([replace(record("old"), created_at=old), record("new")])
    s.flush()
    s.record_feedback([FeedbackItem("old", "good"), FeedbackItem("new", "good")])
    assert s.prune() == 1
    assert s.prediction_ids() == {"new"}
    assert s.count("feedback") == 1


def test_without_retention_nothing_is_pruned(store: PredictionStore) -> None:
    store.log([replace(record("old"), created_at=datetime(2000, 1, 1, tzinfo=UTC))])
    store.flush()
    assert store.prune() == 0
    assert store.prediction_ids() == {"old"}


def test_full_buffer_drops_oldest(tmp_path: Path) -> None:
    drops: list[tuple[str, int]] = []
    s = PredictionStore(
        f"sqlite:///{tmp_path}/log.db", max_buffered=3, on_drop=lambda r, n: drops.append((r, n))
    )
    s.log([record(str(i)) for i in range(5)])
    assert (s.buffered(), s.dropped) == (3, 2)
    assert drops == [(DROP_BUFFER_FULL, 2)]


def test_an_idle_store_notices_the_database_is_gone_and_back(tmp_path: Path) -> None:
    down = PredictionStore(unreachable_url())
    with pytest.raises(OperationalError):
        down._check_idle()
    assert not down.healthy
    up = PredictionStore(f"sqlite:///{tmp_path}/log.db")
    up.unreachable_since = 1.0
    up._check_idle()
    assert up.healthy


def test_feedback_beyond_sqlite_variable_limit_is_looked_up_in_chunks(tmp_path: Path) -> None:
    """A SQLite built with the old default of 999 bound variables: 1000 ids (the most a
    feedback call may carry) in one ``IN (...)`` failed with 'too many SQL variables'."""
    s = PredictionStore(f"sqlite:///{tmp_path}/log.db", flush_interval_s=60)

    @event.listens_for(s.engine, "connect")
    def low_limit(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        dbapi_connection.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 999)

    s.create_tables()
    ids = [f"p{i}" for i in range(1000)]
    s.log([record(pid) for pid in ids])
    s.flush()
    results = s.record_feedback([FeedbackItem(pid, "good") for pid in ids])
    assert [r.prediction_id for r in results] == ids
    assert not any(r.duplicate for r in results)
    assert s.count("feedback") == 1000
    again = s.record_feedback([FeedbackItem(pid, "good") for pid in ids])
    assert all(r.duplicate for r in again)


def test_rows_carry_their_namespace_and_feedback_finds_only_its_own(tmp_path: Path) -> None:
    """Two models named "m" in staging and prod sharing one store: a label sent to prod
    for a staging prediction is unknown there, not stored against staging's row."""
    url = f"sqlite:///{tmp_path}/log.db"
    staging = PredictionStore(url, namespace="staging", model="m")
    prod = PredictionStore(url, namespace="prod", model="m")
    staging.create_tables()
    prod.create_tables()
    staging.log([replace(record("s1"), namespace="staging")])
    prod.log([replace(record("p1"), namespace="prod")])
    staging.flush()
    prod.flush()
    with staging.engine.connect() as conn:
        owners = dict(conn.execute(select(predictions.c.id, predictions.c.namespace)).all())
    assert owners == {"s1": "staging", "p1": "prod"}
    with pytest.raises(UnknownPredictionError):
        prod.record_feedback([FeedbackItem("s1", "defective")])
    assert prod.record_feedback([FeedbackItem("p1", "good")])[0].prediction_id == "p1"
    assert staging.count("feedback") == 1


def test_a_log_created_before_namespaces_is_migrated(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/log.db"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(
            "CREATE TABLE vigia_predictions (id VARCHAR(64) PRIMARY KEY, created_at DATETIME "
            "NOT NULL, model VARCHAR(128) NOT NULL, version VARCHAR(64) NOT NULL, track "
            "VARCHAR(16) NOT NULL, features JSON, predicted VARCHAR(256) NOT NULL, "
            "probabilities JSON NOT NULL)"
        ))
        conn.execute(text(
            "INSERT INTO vigia_predictions VALUES ('old', '2026-01-01 00:00:00', 'm', '1', "
            "'stable', NULL, 'good', '{}')"
        ))
    engine.dispose()
    s = PredictionStore(url, namespace="prod", model="m")
    s.create_tables()
    s.create_tables()  # a second replica: nothing left to add
    s.log([replace(record("new"), namespace="prod")])
    s.flush()
    with s.engine.connect() as conn:
        owners = dict(conn.execute(select(predictions.c.id, predictions.c.namespace)).all())
        indexes = {i["name"] for i in inspect(conn).get_indexes("vigia_predictions")}
    assert owners == {"old": "", "new": "prod"}
    assert OWNER_INDEX in indexes


def test_a_database_unreachable_at_start_buffers_and_reports(tmp_path: Path) -> None:
    """The server starts serving without its database: start() does not wait for it, the
    health callback says it is down, and rows stay buffered for when it answers."""
    reports: list[tuple[bool, int]] = []
    s = PredictionStore(unreachable_url(), flush_interval_s=0.05,
                        on_health=lambda up, rows: reports.append((up, rows)))
    s.start()
    try:
        s.log([record("a")])
        assert not s.healthy
        assert reports[0] == (False, 0)
        for _ in range(400):
            if (False, 1) in reports:
                break
            time.sleep(0.05)
        assert (False, 1) in reports
        assert s.buffered() == 1
    finally:
        s._stop.set()
        s._wake.set()
        assert s._thread is not None
        s._thread.join()
