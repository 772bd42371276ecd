"""Examples the property test (tests/integration/operator/test_spec_properties.py) found or
was written for, kept as regular tests: specs the API server accepts on which a pure part
of the operator raised (and stopped the tick) before issue 21. Each must now end in the
project's own refusal, naming the field."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.operator.pure_parts import run_pure_parts
from tests.unit.operator.schema import defaulted_sample


def _with_retraining(**changes: Any) -> dict[str, Any]:
    body = defaulted_sample()
    retraining = body["spec"]["retraining"]
    for key, value in changes.items():
        retraining[key] = {**retraining.get(key, {}), **value}
    return body


def test_the_sample_goes_through_its_life_without_a_refusal() -> None:
    assert run_pure_parts(defaulted_sample()) == []


@pytest.mark.parametrize("schedule", ["0 0 31 2 *", "* * 30 feb *", "0 3 31 4 *"])
def test_a_schedule_that_never_fires(schedule: str) -> None:
    # Before: CroniterBadDateError from the retraining policy's first tick.
    (refusal,) = run_pure_parts(_with_retraining(triggers={"schedule": schedule}))
    assert refusal.startswith("InvalidSpec: spec.retraining.triggers.schedule:")
    assert "never fires" in refusal


@pytest.mark.parametrize("uri", ["pvc://../x.csv", "pvc://data/..", "pvc://data/../x.csv",
                                 "pvc://data/./x.csv"])
def test_a_pvc_dataset_that_leaves_its_claim(uri: str) -> None:
    # Before: ValueError from the Job builder once a drift trigger started a retraining.
    # The URI policy (issue 21c) refuses it, naming the field.
    (refusal,) = run_pure_parts(_with_retraining(dataset={"uri": uri}))
    assert refusal.startswith("SchemeNotAllowed: spec.retraining.dataset.uri:")
