"""The rollout's status sections, its one owner: ``stable``, ``canary`` (removed when no
canary is in flight) and ``history`` (bounded, newest first), from this reconcile's
rollout step. status.stable names a version once the stable Deployment has served it
completely, and keeps its ``since`` while it stays the same version."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from vigia_operator.core.clock import iso
from vigia_operator.core.types import Obj
from vigia_operator.decide.rollout.model import CanaryState, Version
from vigia_operator.decide.rollout.state import (
    canary_to_status,
    push_history,
    version_from_status,
    version_to_status,
)
from vigia_operator.decide.rollout.step import RolloutStep
from vigia_operator.status.sections import SectionInput, SectionUpdate


@dataclass(frozen=True)
class StableStatus:
    """status.stable: the version serving all stable traffic, and since when."""

    version: Version
    since: str

    def to_status(self) -> Obj:
        return {**version_to_status(self.version), "since": self.since}


@dataclass(frozen=True)
class RolloutStatus:
    stable: StableStatus | None  # None: no version has served completely yet (left as is)
    canary: CanaryState | None  # None: no canary in flight (the section is removed)
    history: list[Obj]  # newest first, at most HISTORY_LIMIT

    def to_status(self) -> Obj:
        return {"stable": None if self.stable is None else self.stable.to_status(),
                "canary": None if self.canary is None else canary_to_status(self.canary),
                "history": self.history}


def rollout_status(result: RolloutStep, status: Mapping[str, Any],
                   now: datetime) -> RolloutStatus:
    decision, observed = result.decision, result.observed
    previous = status.get("stable") or {}
    stable: StableStatus | None = None
    if previous.get("uri") == decision.stable.uri:
        stable = StableStatus(decision.stable, str(previous.get("since") or iso(now)))
    elif observed.stable_serves == decision.stable.uri and observed.stable_complete:
        stable = StableStatus(decision.stable, iso(now))
    else:
        kept = version_from_status(previous)
        stable = None if kept is None else StableStatus(kept, str(previous.get("since", "")))
    return RolloutStatus(stable, decision.canary,
                         push_history(status.get("history"), decision.ended))


def rollout_sections(given: SectionInput) -> tuple[SectionUpdate, ...]:
    if given.rollout is None:
        return ()
    written = rollout_status(given.rollout, given.previous, given.now).to_status()
    return (
        SectionUpdate("stable", written["stable"]),
        SectionUpdate("canary", written["canary"], remove=written["canary"] is None),
        SectionUpdate("history", written["history"]),
    )
