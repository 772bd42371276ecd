"""The feature schema of a model and the validation of incoming rows against it.

``validate_records`` and ``validate_arrays`` are on the model server's hot path: they
work column by column in plain Python and numpy, and never build per-row pandas
objects.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import numpy as np
import pandas as pd

FeatureKind = Literal["numeric", "categorical"]
FEATURE_KINDS: tuple[FeatureKind, ...] = ("numeric", "categorical")

_NUMBER_TYPES = (int, float, np.integer, np.floating)
# Tree models in scikit-learn compute in float32: larger magnitudes would fail inside the
# model, so they are refused here, naming the field.
FLOAT32_MAX = float(np.finfo(np.float32).max)


class InvalidInputError(ValueError):
    """Input that does not fit the schema; ``field`` says where (e.g. ``rows[3].shift``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class FeatureSpec:
    """One input feature: its kind, training dtype, categories or range, and nullability."""

    name: str
    kind: FeatureKind
    dtype: str
    categories: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    nullable: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "dtype": self.dtype,
            "categories": list(self.categories) if self.categories is not None else None,
            "minimum": self.minimum,
            "maximum": self.maximum,
            "nullable": self.nullable,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureSpec:
        kind = data["kind"]
        if kind not in FEATURE_KINDS:
            raise ValueError(f"feature {data.get('name')!r}: unknown kind {kind!r}")
        categories = data.get("categories")
        return cls(
            name=str(data["name"]),
            kind=kind,
            dtype=str(data["dtype"]),
            categories=tuple(str(c) for c in categories) if categories is not None else None,
            minimum=_optional_float(data.get("minimum")),
            maximum=_optional_float(data.get("maximum")),
            nullable=bool(data.get("nullable", False)),
        )


@dataclass(frozen=True)
class FeatureSchema:
    """The ordered features a model takes."""

    features: tuple[FeatureSpec, ...]
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index = {spec.name: i for i, spec in enumerate(self.features)}
        if len(index) != len(self.features):
            raise ValueError("feature names must be unique")
        object.__setattr__(self, "_index", index)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.features)

    def __getitem__(self, name: str) -> FeatureSpec:
        return self.features[self._index[name]]

    def __contains__(self, name: object) -> bool:
        return name in self._index

    @classmethod
    def from_frame(cls, X: pd.DataFrame) -> FeatureSchema:
        """Infer the schema from training data: numeric or categorical, range, categories."""
        return cls(tuple(_infer_spec(str(name), X[name]) for name in X.columns))

    def to_dict(self) -> dict[str, Any]:
        return {"features": [spec.to_dict() for spec in self.features]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureSchema:
        return cls(tuple(FeatureSpec.from_dict(f) for f in data["features"]))


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _infer_spec(name: str, column: pd.Series) -> FeatureSpec:
    nullable = bool(column.isna().any())
    dtype = str(column.dtype)
    if pd.api.types.is_bool_dtype(column) or pd.api.types.is_numeric_dtype(column):
        values = column.dropna().astype("float64")
        return FeatureSpec(
            name=name,
            kind="numeric",
            dtype=dtype,
            minimum=float(values.min()) if len(values) else None,
            maximum=float(values.max()) if len(values) else None,
            nullable=nullable,
        )
    present = column.dropna()
    odd = [v for v in present.unique() if not isinstance(v, str)]
    if odd:
        raise ValueError(
            f"feature {name!r}: categorical values must be strings, found {odd[0]!r}; "
            "convert the column to str or to a numeric dtype"
        )
    return FeatureSpec(
        name=name,
        kind="categorical",
        dtype=dtype,
        categories=tuple(sorted(str(v) for v in present.unique())),
        nullable=nullable,
    )


Columns = dict[str, np.ndarray]


def validate_records(schema: FeatureSchema, rows: Any, *, field: str = "rows") -> pd.DataFrame:
    """Check rows given as ``{feature: value}`` mappings; return a frame in schema order."""
    return columns_to_frame(schema, record_columns(schema, rows, field=field))


def validate_arrays(schema: FeatureSchema, rows: Any, *, field: str = "rows") -> pd.DataFrame:
    """Check rows given as value lists in schema order; return a frame in schema order."""
    return columns_to_frame(schema, array_columns(schema, rows, field=field))


def record_columns(schema: FeatureSchema, rows: Any, *, field: str = "rows") -> Columns:
    """Like ``validate_records`` but return the checked columns (numeric ones as float64
    arrays, NaN for null), cheaper to bin than a frame's columns."""
    rows = _check_batch(rows, field)
    names = schema.names
    width = len(names)
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise InvalidInputError(f"{field}[{i}]", "expected an object of feature values")
        if len(row) != width or not all(name in row for name in names):
            _raise_key_error(schema, row, f"{field}[{i}]")
    return _check_columns(schema, [[row[name] for row in rows] for name in names], field)


def array_columns(schema: FeatureSchema, rows: Any, *, field: str = "rows") -> Columns:
    """Like ``validate_arrays`` but return the checked columns."""
    rows = _check_batch(rows, field)
    width = len(schema.features)
    for i, row in enumerate(rows):
        if not isinstance(row, list | tuple):
            raise InvalidInputError(f"{field}[{i}]", f"expected an array of {width} values")
        if len(row) != width:
            raise InvalidInputError(
                f"{field}[{i}]", f"expected {width} values in schema order, got {len(row)}"
            )
    return _check_columns(schema, [list(column) for column in zip(*rows, strict=True)], field)


def columns_to_frame(schema: FeatureSchema, columns: Columns) -> pd.DataFrame:
    """The model's input frame from checked columns, with the training dtypes."""
    data: dict[str, Any] = {}
    for spec in schema.features:
        values = columns[spec.name]
        if spec.dtype == "category":
            data[spec.name] = pd.Categorical(values, categories=list(spec.categories or ()))
        else:
            data[spec.name] = values
    return pd.DataFrame(data)


def _check_batch(rows: Any, field: str) -> Sequence[Any]:
    if not isinstance(rows, list | tuple):
        raise InvalidInputError(field, "expected an array of rows")
    if not rows:
        raise InvalidInputError(field, "expected at least one row")
    return cast(Sequence[Any], rows)


def _raise_key_error(schema: FeatureSchema, row: dict[str, Any], where: str) -> None:
    for name in schema.names:
        if name not in row:
            raise InvalidInputError(f"{where}.{name}", "missing feature")
    for key in row:
        if key not in schema:
            raise InvalidInputError(f"{where}.{key}", "unknown feature")


def _check_columns(schema: FeatureSchema, columns: list[list[Any]], field: str) -> Columns:
    checked: Columns = {}
    for spec, values in zip(schema.features, columns, strict=True):
        if spec.kind == "numeric":
            checked[spec.name] = _numeric_column(spec, values, field)
        else:
            checked[spec.name] = _categorical_column(spec, values, field)
    return checked


# Up to this many values a column is checked in plain Python: for the one-row requests of
# online serving numpy's per-call overhead (asarray, isfinite, any, abs) would dominate.
_SMALL_COLUMN = 16


def _numeric_column(spec: FeatureSpec, values: list[Any], field: str) -> np.ndarray:
    if len(values) <= _SMALL_COLUMN:
        small = _small_numeric_column(spec, values, field)
        if small is not None:
            return small
    for i, value in enumerate(values):
        kind = type(value)
        if kind is not float and kind is not int:
            _check_unusual_number(spec, value, f"{field}[{i}].{spec.name}")
    try:
        array = np.asarray(values, dtype=np.float64)
    except OverflowError:
        i = next(i for i, v in enumerate(values) if _overflows(v))
        raise InvalidInputError(f"{field}[{i}].{spec.name}", "must be a finite number") from None
    bad = ~np.isfinite(array)
    if bad.any():
        for j in np.flatnonzero(bad).tolist():
            if np.isnan(array[j]) and spec.nullable:
                continue
            where = f"{field}[{j}].{spec.name}"
            if np.isnan(array[j]):
                raise InvalidInputError(where, "must not be null or NaN")
            raise InvalidInputError(where, "must be a finite number")
    huge = np.abs(array) > FLOAT32_MAX  # NaN compares False, without a warning
    if huge.any():
        j = int(np.flatnonzero(huge)[0])
        raise InvalidInputError(
            f"{field}[{j}].{spec.name}", f"must be within ±{FLOAT32_MAX:.4g} (float32)"
        )
    return array


def _small_numeric_column(spec: FeatureSpec, values: list[Any], field: str) -> np.ndarray | None:
    """The column when every value is a plain number in range or an allowed null; None
    leaves anything else to the general path, which names the error."""
    for i, value in enumerate(values):
        kind = type(value)
        if kind is float or kind is int:
            if not -FLOAT32_MAX <= value <= FLOAT32_MAX:  # also false for NaN
                return None
        elif value is None:
            if not spec.nullable:
                raise InvalidInputError(f"{field}[{i}].{spec.name}", "must not be null or NaN")
        else:
            return None
    return np.array(values, dtype=np.float64)


def _overflows(value: Any) -> bool:
    try:
        float(value)
    except OverflowError:
        return True
    except (TypeError, ValueError):
        return False
    return False


def _check_unusual_number(spec: FeatureSpec, value: Any, where: str) -> None:
    if value is None:
        if not spec.nullable:
            raise InvalidInputError(where, "must not be null or NaN")
        return
    # bool is an int subclass: only a boolean feature accepts true/false.
    if isinstance(value, bool | np.bool_):
        if spec.dtype != "bool":
            raise InvalidInputError(where, "expected a number, got boolean")
        return
    if not isinstance(value, _NUMBER_TYPES):
        raise InvalidInputError(where, f"expected a number, got {_json_type(value)}")


def _categorical_column(spec: FeatureSpec, values: list[Any], field: str) -> np.ndarray:
    allowed = spec.categories or ()
    known = frozenset(allowed)
    for i, value in enumerate(values):
        if isinstance(value, str) and value in known:
            continue
        where = f"{field}[{i}].{spec.name}"
        if value is None or (isinstance(value, float) and math.isnan(value)):
            if spec.nullable:
                continue
            raise InvalidInputError(where, "must not be null")
        if not isinstance(value, str):
            raise InvalidInputError(where, f"expected a string, got {_json_type(value)}")
        raise InvalidInputError(
            where, f"unknown category {value!r}; expected one of {', '.join(allowed)}"
        )
    return np.array([v if isinstance(v, str) else np.nan for v in values], dtype=object)


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list | tuple):
        return "array"
    return type(value).__name__
