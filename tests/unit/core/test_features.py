from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

from vigia.features import (
    FeatureSchema,
    FeatureSpec,
    InvalidInputError,
    array_columns,
    columns_to_frame,
    record_columns,
    validate_arrays,
    validate_records,
)


@pytest.fixture
def schema() -> FeatureSchema:
    X = pd.DataFrame(
        {
            "temperature": [170.0, 180.5, 190.0, np.nan],
            "count": [1, 2, 3, 4],
            "shift": ["night", "morning", "night", "afternoon"],
            "supplier": ["a", None, "b", "a"],
        }
    )
    return FeatureSchema.from_frame(X)


def good_rows() -> list[dict[str, Any]]:
    return [
        {"temperature": 175.0, "count": 2, "shift": "night", "supplier": "a"},
        {"temperature": None, "count": 7, "shift": "morning", "supplier": None},
        {"temperature": 400.0, "count": -5, "shift": "afternoon", "supplier": "b"},
    ]


def test_schema_inference(schema: FeatureSchema) -> None:
    assert schema.names == ("temperature", "count", "shift", "supplier")
    temperature = schema["temperature"]
    assert (temperature.kind, temperature.nullable) == ("numeric", True)
    assert (temperature.minimum, temperature.maximum) == (170.0, 190.0)
    count = schema["count"]
    assert (count.kind, count.dtype, count.nullable) == ("numeric", "int64", False)
    assert schema["shift"].kind == "categorical"
    assert schema["shift"].categories == ("afternoon", "morning", "night")
    assert schema["shift"].nullable is False
    assert schema["supplier"].categories == ("a", "b")
    assert schema["supplier"].nullable is True


def test_schema_round_trips_through_json(schema: FeatureSchema) -> None:
    assert FeatureSchema.from_dict(json.loads(json.dumps(schema.to_dict()))) == schema


def test_schema_refuses_non_string_categories() -> None:
    X = pd.DataFrame({"mixed": pd.Series(["a", 3, "b"], dtype=object)})
    with pytest.raises(ValueError, match="'mixed'"):
        FeatureSchema.from_frame(X)


def test_schema_refuses_duplicate_names() -> None:
    spec = FeatureSpec("x", "numeric", "float64")
    with pytest.raises(ValueError, match="unique"):
        FeatureSchema((spec, spec))


def test_valid_records_give_a_frame_in_schema_order(schema: FeatureSchema) -> None:
    rows = [dict(reversed(list(row.items()))) for row in good_rows()]
    frame = validate_records(schema, rows)
    assert list(frame.columns) == list(schema.names)
    assert frame["temperature"].dtype == np.float64
    assert frame["count"].tolist() == [2.0, 7.0, -5.0]
    assert math.isnan(frame["temperature"][1])
    assert frame["shift"].tolist() == ["night", "morning", "afternoon"]
    assert pd.isna(frame["supplier"][1])


def test_out_of_range_values_are_not_errors(schema: FeatureSchema) -> None:
    frame = validate_records(schema, good_rows())
    assert frame["temperature"][2] == 400.0


def test_numpy_scalars_are_numbers(schema: FeatureSchema) -> None:
    rows = good_rows()
    rows[0]["temperature"] = np.float32(171.5)
    rows[0]["count"] = np.int64(3)
    rows[0]["shift"] = np.str_("night")
    frame = validate_records(schema, rows)
    assert frame["temperature"][0] == 171.5
    assert frame["shift"][0] == "night"


def _set(index: int, name: str, value: Any) -> Callable[[list[dict[str, Any]]], None]:
    def mutate(rows: list[dict[str, Any]]) -> None:
        rows[index][name] = value

    return mutate


def _drop(index: int, name: str) -> Callable[[list[dict[str, Any]]], None]:
    def mutate(rows: list[dict[str, Any]]) -> None:
        del rows[index][name]

    return mutate


BAD_RECORDS = [
    ("missing feature", _drop(1, "shift"), "rows[1].shift", "missing feature"),
    ("unknown feature", _set(2, "colour", "gold"), "rows[2].colour", "unknown feature"),
    ("string for number", _set(0, "count", "3"), "rows[0].count", "expected a number"),
    ("boolean for number", _set(0, "count", True), "rows[0].count", "boolean"),
    ("null not nullable", _set(2, "count", None), "rows[2].count", "must not be null"),
    ("NaN not nullable", _set(1, "count", float("nan")), "rows[1].count", "NaN"),
    ("infinity", _set(0, "temperature", float("inf")), "rows[0].temperature", "finite"),
    ("huge integer", _set(2, "count", 10**400), "rows[2].count", "finite"),
    ("unknown category", _set(1, "shift", "dawn"), "rows[1].shift", "unknown category 'dawn'"),
    ("number for category", _set(0, "shift", 2), "rows[0].shift", "expected a string"),
    ("null category", _set(2, "shift", None), "rows[2].shift", "must not be null"),
    ("object for number", _set(0, "temperature", {"v": 1}), "rows[0].temperature", "object"),
    ("list for category", _set(1, "supplier", ["a"]), "rows[1].supplier", "array"),
]


@pytest.mark.parametrize(
    ("mutate", "field", "message"),
    [case[1:] for case in BAD_RECORDS],
    ids=[case[0] for case in BAD_RECORDS],
)
def test_bad_records_name_the_field(
    schema: FeatureSchema,
    mutate: Callable[[list[dict[str, Any]]], None],
    field: str,
    message: str,
) -> None:
    rows = good_rows()
    mutate(rows)
    with pytest.raises(InvalidInputError) as caught:
        validate_records(schema, rows)
    assert caught.value.field == field
    assert message in caught.value.message
    assert field in str(caught.value)


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ([], "rows", "at least one row"),
        ({"temperature": 1.0}, "rows", "array of rows"),
        (None, "rows", "array of rows"),
        ([good_rows()[0], "oops"], "rows[1]", "expected an object"),
    ],
    ids=["empty", "object", "null", "row not an object"],
)
def test_malformed_batches(schema: FeatureSchema, body: Any, field: str, message: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        validate_records(schema, body)
    assert (caught.value.field, message in caught.value.message) == (field, True)


def test_field_prefix_is_configurable(schema: FeatureSchema) -> None:
    rows = good_rows()
    del rows[0]["count"]
    with pytest.raises(InvalidInputError) as caught:
        validate_records(schema, rows, field="instances")
    assert caught.value.field == "instances[0].count"


def test_valid_arrays(schema: FeatureSchema) -> None:
    arrays = [list(row.values()) for row in good_rows()]
    assert validate_arrays(schema, arrays).equals(validate_records(schema, good_rows()))


@pytest.mark.parametrize(
    ("arrays", "field", "message"),
    [
        ([[175.0, 2, "night"]], "rows[0]", "expected 4 values"),
        ([[175.0, 2, "night", "a"], "x"], "rows[1]", "expected an array"),
        ([[175.0, "2", "night", "a"]], "rows[0].count", "expected a number"),
        ([[175.0, 2, "noon", "a"]], "rows[0].shift", "unknown category"),
    ],
    ids=["short row", "row not an array", "wrong type", "unknown category"],
)
def test_bad_arrays_name_the_field(
    schema: FeatureSchema, arrays: Any, field: str, message: str
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        validate_arrays(schema, arrays)
    assert caught.value.field == field
    assert message in caught.value.message


def test_category_dtype_is_kept() -> None:
    X = pd.DataFrame({"grade": pd.Categorical(["x", "y", "x"])})
    schema = FeatureSchema.from_frame(X)
    frame = validate_records(schema, [{"grade": "y"}])
    assert isinstance(frame["grade"].dtype, pd.CategoricalDtype)
    assert list(frame["grade"].cat.categories) == ["x", "y"]


def test_boolean_feature_accepts_booleans() -> None:
    schema = FeatureSchema.from_frame(pd.DataFrame({"flag": [True, False]}))
    frame = validate_records(schema, [{"flag": True}, {"flag": False}])
    assert frame["flag"].tolist() == [1.0, 0.0]


def test_checked_columns_are_arrays_for_binning(schema: FeatureSchema) -> None:
    columns = record_columns(schema, good_rows())
    assert list(columns) == list(schema.names)
    assert columns["temperature"].dtype == np.float64
    assert np.isnan(columns["temperature"][1])
    assert columns["shift"].tolist() == ["night", "morning", "afternoon"]
    arrays = [list(row.values()) for row in good_rows()]
    frame = columns_to_frame(schema, array_columns(schema, arrays))
    assert frame.equals(validate_records(schema, good_rows()))


@pytest.mark.parametrize("value", [1e39, -3.5e38, 10**39])
def test_magnitudes_beyond_float32_are_refused_before_the_model(
    schema: FeatureSchema, value: float
) -> None:
    rows = good_rows()
    rows[1]["count"] = value
    with pytest.raises(InvalidInputError) as info:
        record_columns(schema, rows)
    assert info.value.field == "rows[1].count"
    assert "float32" in info.value.message


def test_the_largest_float32_is_taken(schema: FeatureSchema) -> None:
    rows = good_rows()
    rows[0]["temperature"] = 3.4e38
    assert record_columns(schema, rows)["temperature"][0] == 3.4e38
