"""Errors by their cost: what a model's mistakes cost the business per 1,000 predictions.

A cost table (``spec.monitoring.costs``) gives each kind of error (a predicted class for an
actual one) its cost in the business's own unit; a correct prediction costs nothing, and so
does an error the table does not name. Applied to a confusion matrix (labelled predictions
per (actual, predicted) cell), it gives the expected cost per ``PER`` predictions: the mean
cost of one labelled prediction, times ``PER``. The operator judges it (CostHigh, the canary's
costIncrease gate) and the retraining job compares the candidate's with the current model's.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

PER: Final = 1000
DEFAULT_UNIT: Final = "per 1,000 predictions"
Z_95: Final = 1.959963984540054  # two-sided 95% normal quantile

Cell = tuple[str, str]  # (actual, predicted)


@dataclass(frozen=True)
class ErrorCost:
    """What predicting ``predicted`` for an item truly ``actual`` costs."""

    predicted: str
    actual: str
    cost: float


@dataclass(frozen=True)
class CostEstimate:
    """The expected cost per ``PER`` predictions from ``rows`` labelled predictions, with the
    half-width of its 95% normal interval."""

    value: float
    half_width: float
    rows: int


@dataclass(frozen=True)
class CostTable:
    errors: tuple[ErrorCost, ...]
    unit: str = DEFAULT_UNIT  # how the number reads, e.g. "EUR per 1,000 cakes"

    def cost_of(self, actual: str, predicted: str) -> float:
        if actual == predicted:
            return 0.0
        return next((e.cost for e in self.errors
                     if e.actual == actual and e.predicted == predicted), 0.0)

    def estimate(self, cells: Mapping[Cell, float]) -> CostEstimate | None:
        """The expected cost of ``cells`` (counts per (actual, predicted)); None: no rows."""
        rows = sum(n for n in cells.values() if n > 0)
        if rows <= 0:
            return None
        costs = [(self.cost_of(a, p), n) for (a, p), n in cells.items() if n > 0]
        mean = sum(c * n for c, n in costs) / rows
        variance = max(0.0, sum(c * c * n for c, n in costs) / rows - mean * mean)
        return CostEstimate(PER * mean, PER * Z_95 * math.sqrt(variance / rows), round(rows))

    def amount(self, value: float) -> str:
        """``value`` in the unit, as a person reads it: "412 per 1,000 cakes"."""
        return f"{figure(value)} {self.unit}"

    def to_json(self) -> str:
        """The table for a setting (the retraining Job's environment)."""
        return json.dumps({"unit": self.unit, "errors": [
            {"predicted": e.predicted, "actual": e.actual, "cost": e.cost} for e in self.errors]})

    @classmethod
    def from_json(cls, text: str) -> CostTable:
        body = json.loads(text)
        return cls(_errors(body.get("errors") or []), str(body.get("unit") or DEFAULT_UNIT))


@dataclass(frozen=True)
class CostDifference:
    """One cost minus another (e.g. canary minus stable), with its 95% normal interval."""

    value: float
    low: float
    high: float


def difference(new: CostEstimate, old: CostEstimate) -> CostDifference:
    value = new.value - old.value
    half = math.hypot(new.half_width, old.half_width)
    return CostDifference(value, value - half, value + half)


def table_from_spec(errors: Iterable[Mapping[str, Any]], unit: str | None) -> CostTable:
    return CostTable(_errors(errors), unit or DEFAULT_UNIT)


def _errors(items: Iterable[Mapping[str, Any]]) -> tuple[ErrorCost, ...]:
    return tuple(ErrorCost(str(i["predicted"]), str(i["actual"]), float(i["cost"]))
                 for i in items)


def figure(value: float) -> str:
    """Whole numbers from 100 on, three significant digits below: 412, 41.2, 0.412."""
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"
