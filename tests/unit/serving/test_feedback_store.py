"""Feedback as people give it (a label, or only right/wrong) and the labelling queue, on a
real SQLite file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, select, text
from vigia_serving.runtime import new_prediction_id
from vigia_serving.store import (
    QUEUE_INDEX,
    FeedbackConflictError,
    FeedbackItem,
    PredictionRecord,
    PredictionStore,
    feedback,
    predictions,
)

BINARY = ("good", "defective")
THREE = ("good", "defective", "burnt")


def record(pid: str, predicted: str = "good", classes: tuple[str, ...] = BINARY,
           confidence: float = 0.9, namespace: str = "prod", model: str = "m",
           at: datetime | None = None) -> PredictionRecord:
    rest = (1 - confidence) / (len(classes) - 1)
    probabilities = {c: confidence if c == predicted else rest for c in classes}
    return PredictionRecord(
        pid, at or datetime.now(UTC), model, "1", "stable", {"x": pid}, predicted,
        probabilities, namespace,
    )


@pytest.fixture
def store(tmp_path: Path) -> PredictionStore:
    s = PredictionStore(f"sqlite:///{tmp_path}/log.db", flush_interval_s=60,
                        namespace="prod", model="m")
    s.create_tables()
    return s


def stored(store: PredictionStore) -> dict[str, tuple[str | None, bool]]:
    with store.engine.connect() as conn:
        rows = conn.execute(select(feedback.c.prediction_id, feedback.c.label,
                                   feedback.c.correct)).all()
    return {pid: (label, correct) for pid, label, correct in rows}


def test_right_or_wrong_of_a_binary_model_implies_the_true_class(store: PredictionStore) -> None:
    store.log([record("a", "good"), record("b", "good"), record("c", "defective")])
    results = store.record_feedback([
        FeedbackItem("a", correct=True), FeedbackItem("b", correct=False),
        FeedbackItem("c", correct=False),
    ])
    assert [(r.label, r.correct, r.duplicate) for r in results] == [
        ("good", True, False), ("defective", False, False), ("good", False, False)]
    assert stored(store) == {"a": ("good", True), "b": ("defective", False),
                             "c": ("good", False)}


def test_feedback_carries_the_logged_inputs_only_when_segments_need_them(
    store: PredictionStore,
) -> None:
    store.log([record("a"), record("b")])
    assert store.record_feedback([FeedbackItem("a", "good")])[0].features is None
    store.feedback_reads_features = True  # the server sets it when it has segments
    assert store.record_feedback([FeedbackItem("b", "good")])[0].features == {"x": "b"}


def test_a_label_records_whether_the_prediction_was_right(store: PredictionStore) -> None:
    store.log([record("a", "good"), record("b", "good")])
    store.record_feedback([FeedbackItem("a", "good"), FeedbackItem("b", "defective")])
    assert stored(store) == {"a": ("good", True), "b": ("defective", False)}


def test_wrong_among_more_classes_leaves_the_true_class_unknown(
    store: PredictionStore,
) -> None:
    store.log([record("a", "good", THREE), record("b", "burnt", THREE)])
    [wrong, right] = store.record_feedback(
        [FeedbackItem("a", correct=False), FeedbackItem("b", correct=True)])
    assert (wrong.label, wrong.correct, right.label, right.correct) == (
        None, False, "burnt", True)
    assert stored(store) == {"a": (None, False), "b": ("burnt", True)}


def test_the_same_verdict_again_is_a_duplicate(store: PredictionStore) -> None:
    store.log([record("a", "good"), record("b", "good", THREE)])
    store.record_feedback([FeedbackItem("a", "good"), FeedbackItem("b", correct=False)])
    again = store.record_feedback([
        FeedbackItem("a", correct=True), FeedbackItem("b", correct=False),
    ])
    assert [r.duplicate for r in again] == [True, True]
    # A label stored first, then "wrong" without one: nothing new either.
    store.log([record("c", "good", THREE)])
    store.record_feedback([FeedbackItem("c", "burnt")])
    [after] = store.record_feedback([FeedbackItem("c", correct=False)])
    assert (after.duplicate, after.label) == (True, "burnt")


def test_the_true_class_of_a_wrong_prediction_may_come_later(store: PredictionStore) -> None:
    store.log([record("a", "good", THREE)])
    store.record_feedback([FeedbackItem("a", correct=False)])
    [later] = store.record_feedback([FeedbackItem("a", "burnt")])
    assert (later.duplicate, later.completed, later.label) == (False, True, "burnt")
    assert stored(store) == {"a": ("burnt", False)}
    [again] = store.record_feedback([FeedbackItem("a", "burnt")])
    assert again.duplicate and not again.completed


def test_wrong_and_its_class_in_one_request(store: PredictionStore) -> None:
    store.log([record("a", "good", THREE)])
    results = store.record_feedback([FeedbackItem("a", correct=False), FeedbackItem("a", "burnt")])
    assert [(r.duplicate, r.completed) for r in results] == [(False, False), (False, True)]
    assert stored(store) == {"a": ("burnt", False)}


@pytest.mark.parametrize(
    ("first", "then", "field"),
    [
        (FeedbackItem("a", "good"), FeedbackItem("a", correct=False), "correct"),
        (FeedbackItem("a", "defective"), FeedbackItem("a", correct=True), "correct"),
        (FeedbackItem("a", correct=False), FeedbackItem("a", "good"), "label"),
        (FeedbackItem("a", correct=True), FeedbackItem("a", "burnt"), "label"),
        (FeedbackItem("a", "burnt"), FeedbackItem("a", "defective"), "label"),
    ],
)
def test_a_contradiction_is_a_conflict_naming_the_field(
    store: PredictionStore, first: FeedbackItem, then: FeedbackItem, field: str,
) -> None:
    store.log([record("a", "good", THREE)])
    store.record_feedback([first])
    with pytest.raises(FeedbackConflictError) as info:
        store.record_feedback([then])
    assert (info.value.index, info.value.field) == (0, field)
    assert len(stored(store)) == 1


def test_the_queue_lists_unlabelled_predictions_least_confident_first(
    store: PredictionStore,
) -> None:
    store.log([
        record("sure", confidence=0.99), record("unsure", confidence=0.51),
        record("middling", confidence=0.75), record("labelled", confidence=0.5),
        record("elsewhere", confidence=0.5, namespace="staging"),
        record("other-model", confidence=0.5, model="n"),
    ])
    store.flush()
    store.record_feedback([FeedbackItem("labelled", correct=True)])
    queue = store.pending(10)
    assert [p.id for p in queue] == ["unsure", "middling", "sure"]
    assert queue[0].confidence == pytest.approx(0.51)
    assert queue[0].features == {"x": "unsure"} and queue[0].created_at.tzinfo is not None
    assert [p.id for p in store.pending(2)] == ["unsure", "middling"]


def test_the_queue_gives_a_random_sample_on_request(store: PredictionStore) -> None:
    ids = [new_prediction_id() for _ in range(100)]  # random, as the server's are
    store.log([record(pid, confidence=0.5 + i / 200) for i, pid in enumerate(ids)])
    store.flush()
    store.record_feedback([FeedbackItem(ids[0], correct=True)])
    samples = [{p.id for p in store.pending(5, "random")} for _ in range(40)]
    assert all(len(s) == 5 and ids[0] not in s for s in samples)
    # Not the least confident every time; most predictions come up in 40 samples of 5.
    seen = set().union(*samples)
    assert samples[0] != set(ids[1:6]) and len(seen) > 50
    # Fewer unlabelled than asked for: all of them, whatever the random starting point.
    assert {p.id for p in store.pending(100, "random")} == set(ids[1:])


def test_a_store_from_before_correct_feedback_is_migrated(tmp_path: Path) -> None:
    """Tables of an older server: feedback without ``correct`` and with a label that may
    not be null, predictions without confidence. The migration keeps their rows, fills in
    ``correct``, and then "wrong" among more classes can be stored without a label."""
    url = f"sqlite:///{tmp_path}/log.db"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(
            "CREATE TABLE vigia_predictions (id VARCHAR(64) PRIMARY KEY, created_at DATETIME "
            "NOT NULL, namespace VARCHAR(253) NOT NULL DEFAULT '', model VARCHAR(128) NOT NULL, "
            "version VARCHAR(64) NOT NULL, track VARCHAR(16) NOT NULL, features JSON, "
            "predicted VARCHAR(256) NOT NULL, probabilities JSON NOT NULL)"))
        conn.execute(text(
            "CREATE TABLE vigia_feedback (prediction_id VARCHAR(64) NOT NULL PRIMARY KEY "
            "REFERENCES vigia_predictions (id), label VARCHAR(256) NOT NULL, "
            "received_at DATETIME NOT NULL)"))
        conn.execute(text("CREATE INDEX ix_vigia_feedback_received_at "
                          "ON vigia_feedback (received_at)"))
        for pid, label in (("right", "good"), ("wrong", "burnt"), ("open", None)):
            conn.execute(text(
                "INSERT INTO vigia_predictions VALUES (:id, '2026-01-01 00:00:00', 'prod', "
                "'m', '1', 'stable', NULL, 'good', '{\"good\": 0.5, \"defective\": 0.3, "
                "\"burnt\": 0.2}')"), {"id": pid})
            if label:
                conn.execute(text("INSERT INTO vigia_feedback VALUES (:id, :label, "
                                  "'2026-01-01 00:00:01')"), {"id": pid, "label": label})
    engine.dispose()
    s = PredictionStore(url, namespace="prod", model="m")
    s.create_tables()
    s.create_tables()  # a second replica: nothing left to do
    assert stored(s) == {"right": ("good", True), "wrong": ("burnt", False)}
    s.log([record("new", "good", THREE, at=datetime.now(UTC) - timedelta(days=1))])
    [result] = s.record_feedback([FeedbackItem("new", correct=False)])
    assert result.label is None
    with s.engine.connect() as conn:
        indexes = {i["name"] for i in inspect(conn).get_indexes("vigia_predictions")}
        confidences = dict(conn.execute(select(predictions.c.id, predictions.c.confidence)).all())
    assert QUEUE_INDEX in indexes
    assert confidences == {"right": None, "wrong": None, "open": None, "new": 0.9}
    assert [p.id for p in s.pending(5)] == ["open"]  # the only one without feedback
