"""How spec fields are refused, and the CRD's duration form read once for every field."""

from __future__ import annotations

import pytest
from vigia_operator.core.fields import SpecError, parse_duration


@pytest.mark.parametrize(("text", "seconds"), [
    ("30s", 30), ("2m", 120), ("1h30m", 5400), ("500ms", 0.5), ("1h", 3600), ("0s", 0)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text, "f") == seconds


@pytest.mark.parametrize("text", ["", "2", "2 m", "m", "1d", "1x", "-1s", "1h 30m", None, 30])
def test_bad_durations_name_the_field(text: object) -> None:
    with pytest.raises(SpecError, match=r"^spec\.x: .* is not a duration"):
        parse_duration(text, "spec.x")
