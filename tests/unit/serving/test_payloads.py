"""Request bodies: every refusal names the field that is wrong."""

from __future__ import annotations

import re

import pytest
from vigia_serving.payloads import (
    MalformedBodyError,
    PendingQuery,
    TooLargeError,
    UnsupportedMediaTypeError,
    check_content_type,
    counting_pattern,
    parse_feedback,
    parse_pending_query,
    parse_rows,
)
from vigia_serving.store import FeedbackItem

from vigia.features import InvalidInputError

CLASSES = ("defective", "good")


def test_records_and_arrays_are_told_apart() -> None:
    assert parse_rows(b'{"rows": [{"a": 1}]}', max_rows=5).kind == "records"
    assert parse_rows(b'{"rows": [[1, 2]]}', max_rows=5).kind == "arrays"


@pytest.mark.parametrize(
    ("body", "error", "field"),
    [
        (b"", MalformedBodyError, "body"),
        (b"   ", MalformedBodyError, "body"),
        (b"{not json", MalformedBodyError, "body"),
        (b"[1, 2]", MalformedBodyError, "body"),
        (b"{}", InvalidInputError, "rows"),
        (b'{"rows": 3}', InvalidInputError, "rows"),
        (b'{"rows": []}', InvalidInputError, "rows"),
        (b'{"rows": [[1]], "extra": 1}', InvalidInputError, "extra"),
        (b'{"rows": [[1], [2], [3]]}', TooLargeError, "rows"),
        (b'{"rows": [[1]], "rows": [[2]]}', MalformedBodyError, "body"),
        (b'{"rows": [{"a": 1, "b": 2, "a": 3}]}', MalformedBodyError, "body"),
        (b'{"rows": [[NaN]]}', MalformedBodyError, "body"),
        (b'{"rows": [[Infinity]]}', MalformedBodyError, "body"),
        (b'{"rows": [[1e400]]}', MalformedBodyError, "body"),
        (b'{"rows": [["x", {"a": ": 1", "a": 2}]]}', MalformedBodyError, "body"),
        (b'{"rows": [[1]]} {"rows": [[2]]}', MalformedBodyError, "body"),
        (b'\xff\xfe', MalformedBodyError, "body"),
    ],
)
def test_bad_rows_bodies(body: bytes, error: type[Exception], field: str) -> None:
    with pytest.raises(error) as info:
        parse_rows(body, max_rows=2)
    assert isinstance(info.value, InvalidInputError)
    assert info.value.field == field


def test_feedback_single_and_batch() -> None:
    one = parse_feedback(b'{"prediction_id": "p1", "label": "good"}', classes=CLASSES, max_items=5)
    assert one == [FeedbackItem("p1", "good")]
    many = parse_feedback(
        b'[{"prediction_id": "p1", "label": "good"},'
        b' {"prediction_id": "p2", "label": "defective"}]',
        classes=CLASSES, max_items=5,
    )
    assert [i.prediction_id for i in many] == ["p1", "p2"]


def test_integer_label_matches_a_stringified_class() -> None:
    [item] = parse_feedback(b'{"prediction_id": "p", "label": 1}', classes=("0", "1"), max_items=1)
    assert item.label == "1"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"label": "good"}', "prediction_id"),
        (b'{"prediction_id": 7, "label": "good"}', "prediction_id"),
        (b'{"prediction_id": "p"}', "label"),
        (b'{"prediction_id": "p", "label": "meh"}', "label"),
        (b'{"prediction_id": "p", "label": true}', "label"),
        (b'{"prediction_id": "p", "label": "good", "x": 1}', "x"),
        (b'[{"prediction_id": "p", "label": "good"}, {"prediction_id": "q", "label": "x"}]',
         "[1].label"),
        (b'["p"]', "[0]"),
        (b'{"prediction_id": "p", "label": "good", "correct": true}', "correct"),
        (b'{"prediction_id": "p", "correct": "yes"}', "correct"),
        (b'{"prediction_id": "p", "correct": 1}', "correct"),
        (b'{"prediction_id": "p", "correct": null}', "correct"),
        (b'[{"prediction_id": "p", "correct": true}, {"prediction_id": "q"}]', "[1].label"),
        (b"[]", "body"),
        (b'"p"', "body"),
    ],
)
def test_bad_feedback_bodies(body: bytes, field: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        parse_feedback(body, classes=CLASSES, max_items=5)
    assert info.value.field == field


def test_too_many_feedback_items() -> None:
    body = b"[" + b",".join([b'{"prediction_id": "p", "label": "good"}'] * 3) + b"]"
    with pytest.raises(TooLargeError):
        parse_feedback(body, classes=CLASSES, max_items=2)


@pytest.mark.parametrize("value", ["application/json", "Application/JSON; charset=utf-8"])
def test_json_content_types_are_taken(value: str) -> None:
    check_content_type(value)


@pytest.mark.parametrize("value", [None, "", "text/plain", "application/x-www-form-urlencoded",
                                   "application/jsonx"])
def test_other_content_types_are_refused(value: str | None) -> None:
    with pytest.raises(UnsupportedMediaTypeError) as info:
        check_content_type(value)
    assert info.value.field == "content-type"


def test_whitespace_around_json_is_fine() -> None:
    assert parse_rows(b' \n{"rows": [[1]]}\r\n ', max_rows=2).rows == [[1]]


def test_a_string_that_looks_like_a_key_end_is_not_a_duplicate() -> None:
    body = b'{"rows": [{"name": "\\": no", "other": ":"}]}'
    assert parse_rows(body, max_rows=2).rows == [{"name": '": no', "other": ":"}]


def test_big_integers_are_numbers() -> None:
    assert parse_rows(b'{"rows": [[123456789012345678901234567890]]}', max_rows=2).rows == [
        [1.2345678901234568e29]
    ]


def test_feedback_may_say_only_whether_the_prediction_was_right() -> None:
    items = parse_feedback(
        b'[{"prediction_id": "p1", "correct": true}, {"prediction_id": "p2", "correct": false},'
        b' {"prediction_id": "p3", "label": "good"}]',
        classes=CLASSES, max_items=5,
    )
    assert items == [FeedbackItem("p1", correct=True), FeedbackItem("p2", correct=False),
                     FeedbackItem("p3", "good")]


def test_pending_query_defaults_and_bounds() -> None:
    assert parse_pending_query([], max_limit=1000) == PendingQuery(20, "uncertain")
    assert parse_pending_query([("limit", "1000"), ("order", "random")], max_limit=1000) == (
        PendingQuery(1000, "random"))
    assert parse_pending_query([], max_limit=5).limit == 5


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ([("limit", "0")], "limit"),
        ([("limit", "1001")], "limit"),
        ([("limit", "-1")], "limit"),
        ([("limit", "ten")], "limit"),
        ([("limit", "9" * 5000)], "limit"),
        ([("limit", "²")], "limit"),
        ([("limit", "01")], "limit"),
        ([("limit", " 1")], "limit"),
        ([("order", "confident")], "order"),
        ([("order", "")], "order"),
        ([("limit", "1"), ("limit", "2")], "limit"),
        ([("sort", "random")], "sort"),
    ],
)
def test_bad_pending_queries_name_the_parameter(params: list[tuple[str, str]], field: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        parse_pending_query(params, max_limit=1000)
    assert info.value.field == field


@pytest.mark.parametrize("most", [1, 9, 10, 50, 99, 100, 1000, 1234])
def test_the_limit_pattern_matches_exactly_one_to_the_most(most: int) -> None:
    pattern = re.compile(counting_pattern(most))
    matched = [n for n in range(3 * most + 30) if pattern.fullmatch(str(n))]
    assert matched == list(range(1, most + 1))
    assert not pattern.fullmatch("01") and not pattern.fullmatch("")
