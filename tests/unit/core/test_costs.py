"""The expected cost of errors per 1,000 predictions (vigia.costs), by hand-computed numbers."""

from __future__ import annotations

import math

import pytest

from vigia import costs

TABLE = costs.CostTable((costs.ErrorCost("good", "defective", 10.0),
                         costs.ErrorCost("defective", "good", 1.0)), "EUR per 1,000 cakes")


def test_expected_cost_weighs_each_error_by_its_cost() -> None:
    # 1,000 labelled: 20 defective passed as good (10 each), 30 good discarded (1 each).
    cells = {("defective", "good"): 20.0, ("good", "defective"): 30.0,
             ("good", "good"): 900.0, ("defective", "defective"): 50.0}
    found = TABLE.estimate(cells)
    assert found is not None and found.rows == 1000
    assert found.value == pytest.approx(1000 * (20 * 10 + 30 * 1) / 1000)  # 230
    mean, second = 0.23, (20 * 100 + 30 * 1) / 1000
    assert found.half_width == pytest.approx(
        1000 * costs.Z_95 * math.sqrt((second - mean**2) / 1000))
    assert TABLE.amount(found.value) == "230 EUR per 1,000 cakes"


def test_no_rows_is_no_estimate_and_unlisted_errors_cost_nothing() -> None:
    assert TABLE.estimate({}) is None
    assert TABLE.estimate({("good", "good"): 0.0}) is None
    assert TABLE.cost_of("good", "other") == 0.0 and TABLE.cost_of("good", "good") == 0.0


def test_difference_has_the_interval_of_both() -> None:
    new = costs.CostEstimate(412.0, 30.0, 500)
    old = costs.CostEstimate(230.0, 40.0, 900)
    found = costs.difference(new, old)
    assert (found.value, found.low, found.high) == (182.0, 132.0, 232.0)


def test_table_round_trips_through_its_setting() -> None:
    assert costs.CostTable.from_json(TABLE.to_json()) == TABLE
    assert costs.table_from_spec([{"predicted": "a", "actual": "b", "cost": 2}], None).unit == (
        costs.DEFAULT_UNIT)
    assert [costs.figure(v) for v in (412.4, 1234.0, 41.26, 0.4126)] == [
        "412", "1,234", "41.3", "0.413"]
