"""Merging sections into one status (pure): the writer's arithmetic."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from vigia_operator.core import reasons
from vigia_operator.status import conditions as c
from vigia_operator.status.sections import StatusUpdate

Obj = dict[str, Any]

# Degraded for one of these reasons means the operator refused to act: phase Failed.
REFUSALS = frozenset({
    reasons.INVALID_SPEC, reasons.APPLY_REFUSED, reasons.IMAGE_NOT_ALLOWED,
    reasons.SECRET_NOT_ALLOWED, reasons.SCHEME_NOT_ALLOWED, reasons.DIGEST_REQUIRED,
    reasons.OBJECT_CONFLICT, reasons.GATEWAY_NOT_ALLOWED, reasons.HOSTNAME_NOT_ALLOWED,
})


def compose(previous: Mapping[str, Any], update: StatusUpdate, now: str) -> Obj:
    """The status after ``update``: its sections replace theirs, its conditions are merged
    by type (other sections' conditions are kept), the phase follows the conditions."""
    status: Obj = {k: v for k, v in previous.items()}
    generation = update.observed_generation
    if generation is None and isinstance(previous.get("observedGeneration"), int):
        generation = previous["observedGeneration"]
    conditions = list(previous.get("conditions") or [])
    for section in update.sections:
        if section.remove:
            status.pop(section.name, None)
        elif isinstance(section.value, Mapping):
            status[section.name] = dict(section.value)
        elif section.value is not None:
            status[section.name] = [dict(item) for item in section.value]
        conditions = c.merge(conditions, section.conditions, now=now, generation=generation)
    status["conditions"] = conditions
    if update.observed_generation is not None:
        status["observedGeneration"] = update.observed_generation
    phase = phase_of(conditions)
    if phase is not None:
        status["phase"] = phase
    return status


def phase_of(conditions: Iterable[Mapping[str, Any]]) -> str | None:
    """One word for `kubectl get`, from the serving conditions."""
    listed = list(conditions)
    ready, degraded = c.find(listed, reasons.READY), c.find(listed, reasons.DEGRADED)
    progressing = c.find(listed, reasons.PROGRESSING)
    if degraded is not None and degraded.get("status") == "True":
        return (reasons.PHASE_FAILED if degraded.get("reason") in REFUSALS
                else reasons.PHASE_DEGRADED)
    if ready is None:
        return None
    if ready.get("status") == "True":
        return reasons.PHASE_READY
    if ready.get("reason") == reasons.DEPLOYMENT_PENDING:
        return reasons.PHASE_PENDING
    if progressing is not None and progressing.get("status") == "True":
        return reasons.PHASE_PROGRESSING
    return reasons.PHASE_PROGRESSING
