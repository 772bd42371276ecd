"""The prediction log and feedback store, on a real SQLite file."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from vigia_serving.store import (
    FeedbackConflictError,
    FeedbackItem,
    PredictionRecord,
    PredictionStore,
    UnknownPredictionError,
)


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


def test_failed_flush_keeps_rows_for_the_next_try(store: PredictionStore) -> None:
    store.log([record("a")])
    store.flush()
    store.log([record("a"), record("b")])  # "a" again: the insert fails
    with pytest.raises(Exception, match="UNIQUE"):
        store.flush()
    assert store.buffered() == 2


def test_full_buffer_drops_oldest(tmp_path: Path) -> None:
    s = PredictionStore(f"sqlite:///{tmp_path}/log.db", max_buffered=3)
    s.log([record(str(i)) for i in range(5)])
    assert (s.buffered(), s.dropped) == (3, 2)
