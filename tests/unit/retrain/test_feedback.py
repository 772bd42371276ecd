"""read_feedback over a SQLite file written with the model server's own table definitions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, insert, text
from vigia_retrain.errors import RetrainInputError, UnavailableError
from vigia_retrain.feedback import read_feedback
from vigia_serving.store import feedback, metadata, predictions

from vigia.features import FeatureSchema
from vigia.sample import production_line, traffic_records

SCHEMA = FeatureSchema.from_frame(production_line(500, seed=0)[0])
CLASSES = ("defective", "good")
NOW = datetime.now(UTC)


def write(
    url: str, rows: list[tuple[str, datetime, str, Any, str | None]], namespace: str = "prod"
) -> None:
    engine = create_engine(url)
    metadata.create_all(engine)
    with engine.begin() as conn:
        for pid, at, model, features, label in rows:
            conn.execute(insert(predictions).values(
                id=pid, created_at=at, namespace=namespace, model=model, version="1",
                track="stable",
                features=features, predicted="good", probabilities={"good": 1.0},
            ))
            if label is not None:
                conn.execute(insert(feedback).values(prediction_id=pid, label=label,
                                                     received_at=at))
    engine.dispose()


def test_counts_what_could_and_could_not_be_used(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/p.db"
    records, labels = traffic_records(6, seed=3)
    broken = {**records[4], "shift": "weekend"}  # no longer a known category
    rows = [
        ("r0", NOW - timedelta(minutes=5), "sobaos", records[0], labels[0]),
        ("r1", NOW - timedelta(minutes=4), "sobaos", records[1], labels[1]),
        ("r2", NOW - timedelta(minutes=3), "sobaos", None, labels[2]),  # features not logged
        ("r3", NOW - timedelta(minutes=2), "sobaos", records[3], "burnt"),  # not a class
        ("r4", NOW - timedelta(minutes=1), "sobaos", broken, labels[4]),
        ("r5", NOW, "sobaos", records[5], None),  # never labelled
        ("old", NOW - timedelta(days=30), "sobaos", records[0], labels[0]),
        ("other", NOW, "croissants", records[0], labels[0]),
    ]
    write(url, rows)
    data = read_feedback(
        url, namespace="prod", model="sobaos", since=NOW - timedelta(days=7), schema=SCHEMA,
        classes=CLASSES,
    )
    assert data.counts() == {"labelled": 5, "withoutFeatures": 1, "invalid": 2, "used": 2}
    assert list(data.y) == labels[:2]  # oldest first
    assert list(data.X.columns) == list(SCHEMA.names)
    assert data.X["oven_temperature"].tolist() == [
        records[0]["oven_temperature"], records[1]["oven_temperature"]
    ]


def test_no_tables_is_no_feedback(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    create_engine(f"sqlite:///{path}").connect().close()
    with pytest.raises(RetrainInputError, match="no prediction log") as caught:
        read_feedback(f"sqlite:///{path}", namespace="ns", model="m", since=NOW, schema=SCHEMA,
                      classes=CLASSES)
    assert caught.value.code == "NoFeedback"


def test_bad_url_names_the_setting() -> None:
    with pytest.raises(RetrainInputError, match="store_url"):
        read_feedback("not a url", namespace="ns", model="m", since=NOW, schema=SCHEMA,
                      classes=CLASSES)


def test_unreachable_server_hides_the_password() -> None:
    url = "postgresql+psycopg://vigia:hunter2@127.0.0.1:1/p"
    with pytest.raises(UnavailableError) as caught:
        read_feedback(url, namespace="ns", model="m", since=NOW, schema=SCHEMA, classes=CLASSES)
    assert "hunter2" not in str(caught.value) and "***" in str(caught.value)


def test_only_the_namespace_of_the_job_is_read(tmp_path: Path) -> None:
    """Models named "sobaos" in staging and prod log to one store: each one's retraining
    reads its own labels only."""
    url = f"sqlite:///{tmp_path}/p.db"
    records, labels = traffic_records(4, seed=5)
    write(url, [(f"s{i}", NOW, "sobaos", records[i], labels[i]) for i in range(3)], "staging")
    write(url, [("p0", NOW, "sobaos", records[3], labels[3])], "prod")
    since = NOW - timedelta(days=1)
    staging = read_feedback(url, namespace="staging", model="sobaos", since=since,
                            schema=SCHEMA, classes=CLASSES)
    prod = read_feedback(url, namespace="prod", model="sobaos", since=since,
                         schema=SCHEMA, classes=CLASSES)
    assert (staging.used, prod.used) == (3, 1)
    assert list(prod.y) == [labels[3]]


def test_a_log_without_the_namespace_column_is_named(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/p.db"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE vigia_predictions (id VARCHAR(64) PRIMARY KEY, "
                          "created_at DATETIME, model VARCHAR(128), features JSON)"))
        conn.execute(text("CREATE TABLE vigia_feedback (prediction_id VARCHAR(64), "
                          "label VARCHAR(256))"))
    engine.dispose()
    with pytest.raises(RetrainInputError, match="no namespace column"):
        read_feedback(url, namespace="ns", model="m", since=NOW, schema=SCHEMA, classes=CLASSES)


def test_feedback_without_a_true_class_is_not_read(tmp_path: Path) -> None:
    """A model server stores "wrong" among more than two classes with a null label: it
    counts for accuracy, but retraining has no class to learn, so it reads only the rest."""
    url = f"sqlite:///{tmp_path}/p.db"
    records, labels = traffic_records(3, seed=7)
    write(url, [(f"r{i}", NOW - timedelta(minutes=3 - i), "sobaos", records[i], labels[i])
                for i in range(2)])
    write(url, [("wrong", NOW, "sobaos", records[2], None)])
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(insert(feedback).values(prediction_id="wrong", label=None, correct=False,
                                             received_at=NOW))
    engine.dispose()
    data = read_feedback(url, namespace="prod", model="sobaos", since=NOW - timedelta(days=1),
                         schema=SCHEMA, classes=CLASSES)
    assert data.counts() == {"labelled": 2, "withoutFeatures": 0, "invalid": 0, "used": 2}
    assert list(data.y) == labels[:2]
