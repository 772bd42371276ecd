"""What feedback says about a prediction, and how it meets what is already stored (pure).

People give feedback in two ways: the true class (``label``), or only whether the
prediction was right (``correct``). "Right" implies the true class is the predicted one;
"wrong" implies it for a model of two classes (the other one) and leaves it unknown among
more. A stored verdict is never changed: the same again is a duplicate, a contradiction a
conflict; only an unknown true class may be filled in later (``completed``).

For a regressor people give the true value (``value``). It is stored as the label (its
shortest round-trip text, like the predicted value's), and the prediction counts as
"correct" when it is off by at most the tolerance, in the model's own units.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple


@dataclass(frozen=True)
class FeedbackItem:
    """The true class of a prediction (``label``), or only whether it was right
    (``correct``); the request parser lets exactly one of them through."""

    prediction_id: str
    label: str | None = None
    correct: bool | None = None
    value: float | None = None  # a regressor's true value


@dataclass(frozen=True)
class FeedbackResult:
    """What happened to one feedback item. ``label`` is the true class when known (given or
    implied), None for "wrong" among more than two classes. ``duplicate``: a repeat of what
    was stored, nothing new; ``completed``: the true class of a prediction already known
    to be wrong (its outcome was counted then)."""

    prediction_id: str
    label: str | None
    predicted: str
    duplicate: bool
    # Who made the prediction: behind one Service, a label may reach another pod (another
    # track or version) than the one that predicted.
    version: str | None = None
    track: str | None = None
    completed: bool = False
    # A regressor's error (true minus predicted value) and whether it is within tolerance.
    error: float | None = None
    within_tolerance: bool | None = None
    features: Mapping[str, Any] | None = None  # the prediction's logged inputs, if any

    @property
    def correct(self) -> bool:
        if self.within_tolerance is not None:
            return self.within_tolerance
        return self.label == self.predicted


class UnknownPredictionError(LookupError):
    def __init__(self, index: int, prediction_id: str) -> None:
        super().__init__(f"no prediction with id {prediction_id!r}")
        self.index = index
        self.prediction_id = prediction_id


class FeedbackConflictError(ValueError):
    """Feedback contradicting what is stored; ``field`` is the item's field that does."""

    def __init__(self, index: int, prediction_id: str, stored: str, given: str,
                 field: str = "label") -> None:
        super().__init__(f"prediction {prediction_id!r} already has {stored}, not {given}")
        self.index = index
        self.prediction_id = prediction_id
        self.field = field


class Predicted(NamedTuple):
    """A logged prediction, as feedback needs it: its class, who made it, and the classes
    of the model that made it (the keys of its probabilities)."""

    label: str
    version: str
    track: str
    classes: Collection[str] = ()
    # Its logged inputs (None when feature logging was off for it): the segment values its
    # label counts under (vigia.segments).
    features: Mapping[str, Any] | None = None


class Stored(NamedTuple):
    """Feedback already stored for a prediction."""

    label: str | None
    correct: bool


class Writes(NamedTuple):
    """Feedback rows to insert, and the ids whose stored row they replace (completed)."""

    rows: dict[str, dict[str, Any]]
    replaced: set[str]


def value_text(value: float) -> str:
    """How a regressor's value is stored (the shortest text that reads back the same)."""
    return repr(float(value))


def error_of(item: FeedbackItem, made: Predicted) -> float | None:
    """A regressor's error on the item (true minus predicted), None for a class label."""
    if item.value is None:
        return None
    return float(item.value) - float(made.label)


def true_label(item: FeedbackItem, made: Predicted) -> str | None:
    """The true class the item gives or implies; None when only "wrong" among many."""
    if item.value is not None:
        return value_text(item.value)
    if item.label is not None:
        return item.label
    if item.correct:
        return made.label
    others = [c for c in made.classes if c != made.label]
    return others[0] if len(others) == 1 else None


def resolve(
    items: Iterable[FeedbackItem],
    predicted: dict[str, Predicted],
    stored: dict[str, Stored],
    now: datetime,
    tolerance: float = 0.0,
) -> tuple[list[FeedbackResult], Writes]:
    """Results of ``items`` against ``stored`` (updated in place), and the rows to write.
    A true value is correct when within ``tolerance`` of the predicted one.

    Raises UnknownPredictionError or FeedbackConflictError for the first item that is."""
    results: list[FeedbackResult] = []
    writes = Writes({}, set())
    for index, item in enumerate(items):
        pid = item.prediction_id
        made = predicted.get(pid)
        if made is None:
            raise UnknownPredictionError(index, pid)
        label = true_label(item, made)
        error = error_of(item, made)
        correct = label == made.label if error is None else abs(error) <= tolerance
        previous = stored.get(pid)
        duplicate = completed = False
        if previous is not None:
            _check(index, item, previous, label, correct)
            completed = previous.label is None and label is not None
            duplicate = not completed
            label = label if completed else previous.label
        if not duplicate:
            stored[pid] = Stored(label, correct)
            if completed and pid not in writes.rows:
                writes.replaced.add(pid)
            writes.rows[pid] = {
                "prediction_id": pid, "label": label, "correct": correct, "received_at": now,
            }
        results.append(
            FeedbackResult(pid, label, made.label, duplicate, made.version, made.track, completed,
                           error, None if error is None else correct, made.features)
        )
    return results, writes


def _check(
    index: int, item: FeedbackItem, previous: Stored, label: str | None, correct: bool
) -> None:
    """A conflict unless ``item`` agrees with what is stored (or fills in its class)."""
    agrees = previous.correct == correct and (
        previous.label is None or label is None or previous.label == label
    )
    if agrees:
        return
    if item.value is not None:
        raise FeedbackConflictError(index, item.prediction_id, f"true value {previous.label}",
                                    f"value {value_text(item.value)}", "value")
    field = "label" if item.label is not None else "correct"
    given = f"label {item.label!r}" if item.label is not None else f"correct: {_json(correct)}"
    if previous.label is not None:
        held = f"label {previous.label!r}"
    else:
        held = f"correct: {_json(previous.correct)} (true class unknown)"
    raise FeedbackConflictError(index, item.prediction_id, held, given, field)


def _json(value: bool) -> str:
    return "true" if value else "false"
