"""Parsing of request bodies into checked values; every refusal names the offending field.

Pure functions: bytes in, values or an InvalidInputError (``field``, ``message``) out.
Row contents are checked against the model's schema by vigia.features afterwards.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from vigia.features import InvalidInputError

from .feedback import FeedbackItem
from .store import PENDING_ORDERS, PendingOrder

MAX_ID_LENGTH = 64
FEEDBACK_FIELDS = ("prediction_id", "label", "correct")
VALUE_FEEDBACK_FIELDS = ("prediction_id", "value")  # a regressor's
DEFAULT_PENDING_LIMIT = 20
RowKind = Literal["records", "arrays"]
JSON_MEDIA_TYPES = frozenset({"application/json"})


class MalformedBodyError(InvalidInputError):
    """The body is not JSON of the expected shape at all (HTTP 400 rather than 422)."""


class TooLargeError(InvalidInputError):
    """More rows or items than the server accepts in one request (HTTP 413)."""


class UnsupportedMediaTypeError(InvalidInputError):
    """The body is declared as something other than JSON (HTTP 415)."""


class _DuplicateKeyError(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def check_content_type(value: str | None) -> None:
    """Only ``application/json`` (parameters such as charset allowed) is taken."""
    media_type = (value or "").split(";", 1)[0].strip().lower()
    if media_type not in JSON_MEDIA_TYPES:
        shown = f"{value!r}" if value else "none"
        raise UnsupportedMediaTypeError(
            "content-type", f"expected application/json, got {shown}"
        )


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKeyError(key)
            seen.add(key)
    return obj


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# The C scanner with a pairs hook: about 20 µs for a one-row body, and it sees every key.
# Used only when the fast path's key count does not add up.
_DECODER = json.JSONDecoder(object_pairs_hook=_unique_object, parse_constant=_no_constant)


@dataclass(frozen=True)
class RowsRequest:
    """A /predict or /explain body: rows as records (objects) or arrays (schema order)."""

    kind: RowKind
    rows: list[Any]


# Where a key ends: its closing quote, optional whitespace, a colon. Every key of the body
# matches, and so may some string contents: the count is never below the number of keys.
_KEY_END = re.compile(rb'"\s*:')


def load_json(body: bytes) -> Any:
    """Strict JSON: no NaN/Infinity (nor numbers beyond the float range), no duplicate keys.

    orjson parses (about 5 µs for one row); it keeps the last of duplicate keys, so the
    keys it returns are counted against the key ends in the raw body. Only when the two
    differ (a duplicate, or a string that looks like a key end) is the body parsed again
    by the stdlib decoder, which sees every key and names the duplicate."""
    if not body.strip():
        raise MalformedBodyError("body", "empty request body; expected JSON")
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedBodyError("body", f"not valid JSON: {str(exc)[:200]}") from None
    if len(_KEY_END.findall(body)) != _count_keys(value):
        _strict_load(body)
    return value


def _count_keys(value: Any) -> int:
    count = 0
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            count += len(item)
            pending.extend(v for v in item.values() if isinstance(v, dict | list))
        elif isinstance(item, list):
            pending.extend(v for v in item if isinstance(v, dict | list))
    return count


def _strict_load(body: bytes) -> Any:
    try:
        text = body.decode("utf-8")
        value, end = _DECODER.raw_decode(text, _skip_space(text, 0))
        if _skip_space(text, end) != len(text):
            raise ValueError(f"extra data at character {end}")
    except _DuplicateKeyError as exc:
        message = f"duplicate key {exc.key[:64]!r} in a JSON object"
        raise MalformedBodyError("body", message) from None
    except (ValueError, RecursionError) as exc:
        raise MalformedBodyError("body", f"not valid JSON: {str(exc)[:200]}") from None
    return value


def _skip_space(text: str, at: int) -> int:
    while at < len(text) and text[at] in " \t\n\r":
        at += 1
    return at


def parse_rows(body: bytes, *, max_rows: int) -> RowsRequest:
    """``{"rows": [{feature: value, ...}, ...]}`` or ``{"rows": [[value, ...], ...]}``."""
    data = load_json(body)
    if not isinstance(data, dict):
        raise MalformedBodyError("body", 'expected a JSON object like {"rows": [...]}')
    for key in data:
        if key != "rows":
            raise InvalidInputError(str(key), 'unknown field; the body takes only "rows"')
    if "rows" not in data:
        raise InvalidInputError("rows", "missing; give an array of rows")
    rows = data["rows"]
    if not isinstance(rows, list):
        raise InvalidInputError("rows", "expected an array of rows")
    if not rows:
        raise InvalidInputError("rows", "expected at least one row")
    if len(rows) > max_rows:
        raise TooLargeError("rows", f"{len(rows)} rows; at most {max_rows} per request")
    kind: RowKind = "arrays" if isinstance(rows[0], list) else "records"
    return RowsRequest(kind, rows)


def parse_feedback(
    body: bytes, *, classes: Sequence[str], max_items: int, regression: bool = False
) -> list[FeedbackItem]:
    """``{"prediction_id": ..., "label": ...}`` or ``{"prediction_id": ..., "correct":
    true|false}``, or an array of such objects; for a regressor ``{"prediction_id": ...,
    "value": <the true value>}``."""
    data = load_json(body)
    item_of = _value_item if regression else _feedback_item
    if isinstance(data, dict):
        return [item_of(data, "", classes)]
    if not isinstance(data, list):
        raise MalformedBodyError(
            "body", 'expected {"prediction_id": ..., "label": ...} or an array of them'
        )
    if not data:
        raise InvalidInputError("body", "expected at least one feedback item")
    if len(data) > max_items:
        raise TooLargeError("body", f"{len(data)} items; at most {max_items} per request")
    return [item_of(item, f"[{i}]", classes) for i, item in enumerate(data)]


def _value_item(item: Any, where: str, _classes: Sequence[str]) -> FeedbackItem:
    if not isinstance(item, dict):
        raise InvalidInputError(where or "body", "expected an object with prediction_id and value")
    prefix = f"{where}." if where else ""
    for key in item:
        if key not in VALUE_FEEDBACK_FIELDS:
            hint = "; this model is a regressor: give value, the true value" if key in (
                "label", "correct") else ""
            raise InvalidInputError(f"{prefix}{key}", f"unknown field{hint}")
    pid = _prediction_id(item, prefix)
    value = item.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInputError(f"{prefix}value", "required: the true value, a number")
    if not math.isfinite(value):
        raise InvalidInputError(f"{prefix}value", "must be a finite number")
    return FeedbackItem(pid, value=float(value))


def _prediction_id(item: dict[str, Any], prefix: str) -> str:
    pid = item.get("prediction_id")
    if not isinstance(pid, str) or not pid or len(pid) > MAX_ID_LENGTH:
        raise InvalidInputError(
            f"{prefix}prediction_id", "required: the id returned by /predict (a string)"
        )
    return pid


def _feedback_item(item: Any, where: str, classes: Sequence[str]) -> FeedbackItem:
    if not isinstance(item, dict):
        raise InvalidInputError(
            where or "body", "expected an object with prediction_id and label or correct"
        )
    prefix = f"{where}." if where else ""
    for key in item:
        if key not in FEEDBACK_FIELDS:
            raise InvalidInputError(f"{prefix}{key}", "unknown field")
    pid = _prediction_id(item, prefix)
    if "correct" in item:
        if "label" in item:
            raise InvalidInputError(
                f"{prefix}correct", "give either label (the true class) or correct, not both"
            )
        correct = item["correct"]
        if not isinstance(correct, bool):
            raise InvalidInputError(f"{prefix}correct", "expected true or false")
        return FeedbackItem(pid, correct=correct)
    if "label" not in item:
        raise InvalidInputError(
            f"{prefix}label",
            "required: the true class (a string), or instead correct: true|false",
        )
    label = item.get("label")
    if isinstance(label, int) and not isinstance(label, bool):
        label = str(label)
    if not isinstance(label, str):
        raise InvalidInputError(f"{prefix}label", "required: the true class, a string")
    if label not in classes:
        raise InvalidInputError(
            f"{prefix}label", f"{label!r} is not a class of this model; one of {list(classes)}"
        )
    return FeedbackItem(pid, label)


def counting_pattern(most: int) -> str:
    """A regular expression matching exactly the decimal numbers 1 to ``most``, written
    without leading zeros: the OpenAPI document gives it as the pattern of a query string
    (a typed integer there would let fuzzers send [1] as "1" and call it invalid)."""
    top = str(most)
    parts = [f"[1-9][0-9]{{{k - 1}}}" if k > 1 else "[1-9]" for k in range(1, len(top))]
    for i, digit in enumerate(top):
        lowest = 1 if i == 0 else 0
        if int(digit) > lowest:
            rest = len(top) - i - 1
            parts.append(f"{top[:i]}[{lowest}-{int(digit) - 1}]" + (f"[0-9]{{{rest}}}" if rest
                                                                        else ""))
    parts.append(top)
    return "^(" + "|".join(parts) + ")$"


@dataclass(frozen=True)
class PendingQuery:
    """``GET /feedback/pending?limit=N&order=uncertain|random``."""

    limit: int
    order: PendingOrder


def parse_pending_query(params: Sequence[tuple[str, str]], *, max_limit: int) -> PendingQuery:
    """The labelling queue's query parameters (each at most once), checked."""
    given: dict[str, str] = {}
    for name, value in params:
        if name not in ("limit", "order"):
            raise InvalidInputError(name, "unknown parameter; this takes limit and order")
        if name in given:
            raise InvalidInputError(name, "given more than once")
        given[name] = value
    limit = given.get("limit", str(min(DEFAULT_PENDING_LIMIT, max_limit)))
    if not re.fullmatch(counting_pattern(max_limit), limit):
        raise InvalidInputError("limit", f"expected a whole number from 1 to {max_limit}")
    order = given.get("order", "uncertain")
    for known in PENDING_ORDERS:
        if order == known:
            return PendingQuery(int(limit), known)
    raise InvalidInputError("order", f"{order[:64]!r} is not one of {list(PENDING_ORDERS)}")
