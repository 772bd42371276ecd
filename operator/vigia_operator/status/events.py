"""Events from differences between two statuses (pure): the writer posts them.

Condition transitions follow ``reasons.HEALTHY_STATUS``: leaving the healthy status is a
Warning with the condition's reason, Ready coming back is a Normal ``Ready``. A Warning
means a person should look, so leaving it for a routine reason (``reasons.ROUTINE_REASONS``:
a rollout, a new version's first samples) or on a condition the operator answers itself
(``answered``: a retraining trigger) is a Normal Event. A section with something to
announce beyond its conditions adds a rule to ``SECTION_RULES``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from vigia_operator.core import reasons
from vigia_operator.core.text import listed
from vigia_operator.core.types import Event
from vigia_operator.status import conditions as c

SectionRule = Callable[[Mapping[str, Any], Mapping[str, Any]], list[Event]]


def events_for(previous: Mapping[str, Any], current: Mapping[str, Any],
               answered: frozenset[str] = frozenset()) -> list[Event]:
    """Events announcing what changed between two statuses. ``answered``: condition types
    the operator acts on by itself (retraining on drift or low accuracy)."""
    events = _condition_events(previous.get("conditions") or [],
                               current.get("conditions") or [], answered)
    for name, rule in SECTION_RULES.items():
        events.extend(rule(previous.get(name) or {}, current.get(name) or {}))
    return events


def _condition_events(before: list[Any], after: list[Any],
                      answered: frozenset[str]) -> list[Event]:
    events: list[Event] = []
    for cond in after:
        old = c.find(before, cond["type"])
        if old is not None and old.get("status") == cond["status"]:
            continue
        healthy = reasons.HEALTHY_STATUS.get(cond["type"])
        if healthy is None:
            continue
        if cond["status"] == healthy:
            if cond["type"] == reasons.READY:
                events.append(Event(reasons.NORMAL, reasons.READY, cond["message"]))
        elif cond["type"] == reasons.READY:
            if old is not None and old.get("status") == healthy:
                events.append(_left_healthy(cond, answered, reason=reasons.NOT_READY))
        elif cond["status"] == "True" or old is not None:
            events.append(_left_healthy(cond, answered, reason=cond["reason"]))
    return events


def _left_healthy(cond: Mapping[str, Any], answered: frozenset[str], *, reason: str) -> Event:
    """A Warning, unless the condition left for a routine reason (the Event then has that
    reason) or the operator answers it itself."""
    if cond["reason"] in reasons.ROUTINE_REASONS:
        return Event(reasons.NORMAL, cond["reason"], cond["message"])
    if cond["type"] in answered:
        return Event(reasons.NORMAL, reason, cond["message"])
    return Event(reasons.WARNING, reason, cond["message"])


def _hand_edits(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[Event]:
    new = sorted(set(after.get("handEdits") or []) - set(before.get("handEdits") or []))
    if not new:
        return []
    # Every hand edit is in status.serving.handEdits.
    return [Event(reasons.WARNING, reasons.HAND_EDITED,
                  "Changed by hand and left as is (the operator does not set these fields): "
                  + listed(new, sep="; ") + ".")]


SECTION_RULES: Final[dict[str, SectionRule]] = {"serving": _hand_edits}
