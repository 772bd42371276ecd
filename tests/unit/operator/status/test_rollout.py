"""The rollout's status sections merged by compose: canary removed, history a list."""

from __future__ import annotations

from vigia_operator.status.compose import compose
from vigia_operator.status.sections import SectionUpdate, StatusUpdate


def test_a_removed_section_is_gone_and_lists_are_kept() -> None:
    previous = {"canary": {"version": "v2"}, "stable": {"version": "v1"}}
    update = StatusUpdate((
        SectionUpdate("canary", None, remove=True),
        SectionUpdate("history", [{"version": "v2", "outcome": "Promoted"}]),
    ))
    status = compose(previous, update, "2026-11-23T19:00:00Z")
    assert "canary" not in status and status["stable"] == {"version": "v1"}
    assert status["history"] == [{"version": "v2", "outcome": "Promoted"}]
