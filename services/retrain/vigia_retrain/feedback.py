"""Labelled feedback from the model server's prediction log, read with SQLAlchemy Core.

The tables are the server's (docs/serving.md): ``vigia_predictions`` (id, created_at,
namespace, model, version, track, features JSON or null, predicted, probabilities) and
``vigia_feedback`` (prediction_id, label or null, received_at, correct). Only the columns
read here are declared; the job never writes to the store. Only rows of the job's own
namespace and model are read: a store shared by namespaces never mixes their labels. Only
feedback with a known true class is read: "wrong" among more than two classes has a null
label (it counts for accuracy, it teaches no class).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Engine,
    MetaData,
    String,
    Table,
    create_engine,
    inspect,
    select,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from vigia.features import FeatureSchema, InvalidInputError, validate_records
from vigia.retraining import Reason
from vigia_retrain.errors import RetrainInputError, UnavailableError

PREDICTIONS_TABLE = "vigia_predictions"
FEEDBACK_TABLE = "vigia_feedback"
CONNECT_TIMEOUT_S = 10

_metadata = MetaData()
_predictions = Table(
    PREDICTIONS_TABLE,
    _metadata,
    Column("id", String(64), primary_key=True),
    Column("created_at", DateTime(timezone=True)),
    Column("namespace", String(253)),
    Column("model", String(128)),
    Column("features", JSON),
)
_feedback = Table(
    FEEDBACK_TABLE,
    _metadata,
    Column("prediction_id", String(64), primary_key=True),
    Column("label", String(256)),
)


@dataclass
class FeedbackData:
    """Usable labelled feedback, oldest first, and what could not be used."""

    X: pd.DataFrame
    y: pd.Series
    labelled: int  # predictions of the model within the window with a known true class
    without_features: int  # logged with features off (predictionLog.features none/sample)
    invalid: int  # features no longer fitting the schema, or a label that is not a class

    @property
    def used(self) -> int:
        return len(self.X)

    def counts(self) -> dict[str, int]:
        return {
            "labelled": self.labelled,
            "withoutFeatures": self.without_features,
            "invalid": self.invalid,
            "used": self.used,
        }


def read_feedback(
    url: str, *, namespace: str, model: str, since: datetime, schema: FeatureSchema,
    classes: Sequence[str], numeric: bool = False,
) -> FeedbackData:
    """Labelled predictions of ``model`` in ``namespace`` made at or after ``since``; a
    regressor's (``numeric``): their true values, as numbers."""
    rows = _labelled_rows(url, namespace, model, since)
    with_features = [(f, label) for f, label in rows if f is not None]
    X, y, invalid = _checked(schema, _is_number if numeric else set(classes).__contains__,
                             with_features)
    if numeric:
        y = y.astype(np.float64)
    return FeedbackData(
        X=X,
        y=y,
        labelled=len(rows),
        without_features=len(rows) - len(with_features),
        invalid=invalid,
    )


def _labelled_rows(
    url: str, namespace: str, model: str, since: datetime
) -> list[tuple[Any, str]]:
    shown = safe_url(url)
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            present = inspect(conn).get_table_names()
            if PREDICTIONS_TABLE not in present or FEEDBACK_TABLE not in present:
                raise RetrainInputError(
                    "store_url",
                    f"{shown} has no prediction log ({PREDICTIONS_TABLE}, {FEEDBACK_TABLE}): "
                    "no model server has written to it",
                    code=Reason.NO_FEEDBACK,
                )
            columns = {c["name"] for c in inspect(conn).get_columns(PREDICTIONS_TABLE)}
            if "namespace" not in columns:
                raise RetrainInputError(
                    "store_url",
                    f"{shown}: {PREDICTIONS_TABLE} has no namespace column (written by a model "
                    "server older than namespaced logs; it adds the column when it starts)",
                    code=Reason.NO_FEEDBACK,
                )
            query = (
                select(_predictions.c.features, _feedback.c.label)
                .join(_feedback, _feedback.c.prediction_id == _predictions.c.id)
                .where(
                    _predictions.c.namespace == namespace,
                    _predictions.c.model == model,
                    _predictions.c.created_at >= since,
                    _feedback.c.label.is_not(None),
                )
                .order_by(_predictions.c.created_at, _predictions.c.id)
            )
            return [(features, str(label)) for features, label in conn.execute(query)]
    except SQLAlchemyError as err:
        cause = getattr(err, "orig", None) or err
        raise UnavailableError("store_url", f"cannot read {shown}: {cause}") from err
    finally:
        engine.dispose()


def _engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
        sqlite = parsed.get_backend_name() == "sqlite"
        # SQLite would create a missing file, empty: say the store is not there instead.
        database = parsed.database or ":memory:"
        if sqlite and database != ":memory:" and not Path(database).exists():
            raise RetrainInputError("store_url", f"{safe_url(url)}: no such database file")
        args = {} if sqlite else _timeout(parsed.get_driver_name())
        return create_engine(parsed, connect_args=args)
    except ArgumentError as err:
        raise RetrainInputError("store_url", f"not a usable SQLAlchemy URL ({err})") from err
    except ImportError as err:
        raise RetrainInputError("store_url", f"no driver for {safe_url(url)} ({err})") from err


def _timeout(driver: str) -> dict[str, Any]:
    return {"connect_timeout": CONNECT_TIMEOUT_S} if driver.startswith("psycopg") else {}


def safe_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparsable URL>"


def _is_number(label: str) -> bool:
    """A regressor's stored true value (vigia_serving writes the float's text)."""
    try:
        return math.isfinite(float(label))
    except ValueError:
        return False


def _checked(
    schema: FeatureSchema, usable: Callable[[str], bool], rows: list[tuple[Any, str]]
) -> tuple[pd.DataFrame, pd.Series, int]:
    """Rows whose features fit the schema and whose label is usable (a class, or a
    number); and how many did not."""
    kept = [(f, label) for f, label in rows if usable(label) and isinstance(f, dict)]
    if not kept:
        return _empty(schema), pd.Series([], dtype=str), len(rows)
    try:
        X = validate_records(schema, [f for f, _ in kept])
    except InvalidInputError:
        kept = [(f, label) for f, label in kept if _fits(schema, f)]
        if not kept:
            return _empty(schema), pd.Series([], dtype=str), len(rows)
        X = validate_records(schema, [f for f, _ in kept])
    y = pd.Series([label for _, label in kept], dtype=str)
    return X, y, len(rows) - len(kept)


def _fits(schema: FeatureSchema, features: dict[str, Any]) -> bool:
    try:
        validate_records(schema, [features])
    except InvalidInputError:
        return False
    return True


def _empty(schema: FeatureSchema) -> pd.DataFrame:
    return pd.DataFrame({name: [] for name in schema.names})
