"""A refusal the CRD cannot express: a retraining schedule that never fires (issue 21)."""

from __future__ import annotations

import pytest
from vigia_operator.view import SpecError
from vigia_operator.view.retraining import check_schedule


@pytest.mark.parametrize("schedule", ["0 0 31 2 *", "0 0 30 2 *", "15 3 31 4,6,9,11 *"])
def test_a_schedule_that_never_fires_is_refused_naming_the_field(schedule: str) -> None:
    with pytest.raises(SpecError) as refused:
        check_schedule(schedule)
    assert refused.value.field == "spec.retraining.triggers.schedule"
    assert "never fires" in str(refused.value)


@pytest.mark.parametrize("schedule", ["0 3 * * 1", "0 0 29 2 *", "0 0 31 2 1", "@yearly",
                                      "*/5 * * * *"])
def test_a_schedule_that_fires_even_rarely_is_accepted(schedule: str) -> None:
    check_schedule(schedule)  # 29 February every leap year; "31 2 1": Mondays of February
