"""The rollout's status sections: ``stable``, ``canary`` (removed when no canary is in
flight) and ``history`` (bounded, newest first), from this reconcile's rollout step."""

from __future__ import annotations

from datetime import UTC, datetime

from vigia_operator.decide.rollout.state import parse_time
from vigia_operator.decide.rollout.step import status_sections
from vigia_operator.status.sections import SectionInput, SectionUpdate


def rollout_sections(given: SectionInput) -> tuple[SectionUpdate, ...]:
    if given.rollout is None:
        return ()
    now = parse_time(given.now) or datetime.now(UTC)
    sections = status_sections(given.rollout, given.previous, now)
    canary, stable = sections["canary"], sections["stable"]
    return (
        SectionUpdate("stable", stable),
        SectionUpdate("canary", canary, remove=canary is None),
        SectionUpdate("history", sections["history"]),
    )
