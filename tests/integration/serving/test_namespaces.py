"""One PostgreSQL, two namespaces (staging and prod), a model named "sobaos" in each: the
server's store and the retraining reader keep their rows apart, and with row-level
security (vigia_serving.tenancy) one namespace's credentials cannot read the other's."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, func, insert, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ProgrammingError
from vigia_retrain.feedback import read_feedback
from vigia_serving.store import (
    FeedbackItem,
    PredictionRecord,
    PredictionStore,
    UnknownPredictionError,
    predictions,
)
from vigia_serving.tenancy import namespace_role_sql, row_security_sql

from vigia.features import FeatureSchema
from vigia.sample import production_line, traffic_records

pytestmark = pytest.mark.integration

MODEL = "sobaos"
SCHEMA = FeatureSchema.from_frame(production_line(500, seed=0)[0])
CLASSES = ("defective", "good")
RECORDS, LABELS = traffic_records(40, seed=21)
STAGING_LABELS, PROD_LABELS = sorted(LABELS[:25]), sorted(LABELS[25:])


def _log(url: str, namespace: str, rows: range) -> tuple[PredictionStore, list[str]]:
    """What the namespace's server does: log predictions, then take their labels."""
    store = PredictionStore(url, namespace=namespace, model=MODEL)
    store.create_tables()
    now = datetime.now(UTC)
    ids = [f"{namespace}-{secrets.token_hex(4)}" for _ in rows]
    store.log([
        PredictionRecord(pid, now, MODEL, "1", "stable", RECORDS[i], "good",
                         {"good": 0.5, "defective": 0.5}, namespace)
        for pid, i in zip(ids, rows, strict=True)
    ])
    store.flush()
    store.record_feedback([FeedbackItem(pid, LABELS[i]) for pid, i in zip(ids, rows, strict=True)])
    return store, ids


def _feedback(url: str, namespace: str) -> list[str]:
    since = datetime.now(UTC) - timedelta(hours=1)
    data = read_feedback(url, namespace=namespace, model=MODEL, since=since, schema=SCHEMA,
                         classes=CLASSES)
    return sorted(data.y)  # rows logged at one instant come in id order


def test_same_model_name_in_two_namespaces_keeps_its_own_labels(postgres_database: str) -> None:
    staging, staging_ids = _log(postgres_database, "staging", range(0, 25))
    prod, _ = _log(postgres_database, "prod", range(25, 40))
    assert _feedback(postgres_database, "staging") == STAGING_LABELS
    assert _feedback(postgres_database, "prod") == PROD_LABELS
    # A staging prediction id sent to prod's server is unknown there.
    with pytest.raises(UnknownPredictionError):
        prod.record_feedback([FeedbackItem(staging_ids[0], "good")])
    for store in (staging, prod):
        store.engine.dispose()


def test_row_security_keeps_each_namespaces_credentials_to_its_rows(
    postgres_database: str,
) -> None:
    """Each namespace's Secret holds its own login: it reads and writes only its rows,
    whatever it asks, and the server and the Job work unchanged under it."""
    suffix = secrets.token_hex(3)  # roles are per server: names of this run only
    staging, prod = f"staging-{suffix}", f"prod-{suffix}"
    owner = PredictionStore(postgres_database)
    owner.create_tables()
    logins = {}
    with owner.engine.begin() as conn:
        for statement in row_security_sql():
            conn.exec_driver_sql(statement)
        for namespace in (staging, prod):
            login = f"vigia-{namespace}"
            for statement in namespace_role_sql(namespace, login, "pw"):
                conn.exec_driver_sql(statement)
            url = make_url(postgres_database).set(username=login, password="pw")
            logins[namespace] = url.render_as_string(hide_password=False)
    owner.engine.dispose()

    staging_store, staging_ids = _log(logins[staging], staging, range(0, 25))
    prod_store, _ = _log(logins[prod], prod, range(25, 40))
    # Asked for the other namespace, or for every row, a login sees its own only.
    assert _feedback(logins[staging], prod) == []
    assert _feedback(logins[prod], prod) == PROD_LABELS
    engine = create_engine(logins[prod])
    with engine.connect() as conn:
        seen = conn.execute(select(predictions.c.namespace, func.count())
                            .group_by(predictions.c.namespace)).all()
    assert seen == [(prod, 15)]
    # Nor can it write into the other namespace.
    with pytest.raises(ProgrammingError, match="row-level security"), engine.begin() as conn:
        conn.execute(insert(predictions).values(
            id="forged", created_at=datetime.now(UTC), namespace=staging, model=MODEL,
            version="1", track="stable", features=None, predicted="good",
            probabilities={"good": 1.0}))
    # Nor label another namespace's prediction: to prod's login it does not exist.
    with pytest.raises(UnknownPredictionError):
        prod_store.record_feedback([FeedbackItem(staging_ids[0], "good")])
    # The owner (an administrator, not a server's login) still sees both.
    assert _feedback(postgres_database, staging) == STAGING_LABELS
    for disposable in (engine, staging_store.engine, prod_store.engine):
        disposable.dispose()
