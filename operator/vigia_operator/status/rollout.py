"""The rollout's status sections: ``stable``, ``canary`` (removed when no canary is in
flight) and ``history`` (bounded, newest first), from this reconcile's rollout step."""

from __future__ import annotations

from vigia_operator.decide.rollout.step import status_sections
from vigia_operator.status.sections import SectionInput, SectionUpdate


def rollout_sections(given: SectionInput) -> tuple[SectionUpdate, ...]:
    if given.rollout is None:
        return ()
    sections = status_sections(given.rollout, given.previous, given.now)
    canary, stable = sections["canary"], sections["stable"]
    return (
        SectionUpdate("stable", stable),
        SectionUpdate("canary", canary, remove=canary is None),
        SectionUpdate("history", sections["history"]),
    )
