"""status.serving.autoscaling (pure): the stable track's HorizontalPodAutoscaler as
observed, and one Event per change of one of its conditions (type, status and reason; a
new message alone, e.g. each rescale's count, is no new Event: no storm)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vigia_operator.core import reasons
from vigia_operator.core import resources as r
from vigia_operator.core.text import one_sentence
from vigia_operator.core.types import Event, EventType
from vigia_operator.status.sections import SectionInput

Obj = dict[str, Any]

ABLE_TO_SCALE = "AbleToScale"
# The side of each HPA condition that needs no attention (ScalingLimited: either is normal).
HEALTHY = {ABLE_TO_SCALE: "True", "ScalingActive": "True"}


def autoscaler_of(given: SectionInput) -> Mapping[str, Any] | None:
    if given.md.serving.autoscaling is None:
        return None
    return given.observed.get((r.HPA.kind, r.autoscaler_name(given.md.name)))


def autoscaling_status(hpa: Mapping[str, Any]) -> Obj:
    """What status.serving.autoscaling says of an observed HPA."""
    spec = hpa.get("spec") or {}
    status = hpa.get("status") or {}
    conditions = [_condition(c) for c in status.get("conditions") or []]
    out: Obj = {
        "name": (hpa.get("metadata") or {}).get("name"),
        "minReplicas": spec.get("minReplicas", 1),
        "maxReplicas": spec.get("maxReplicas"),
        "currentReplicas": status.get("currentReplicas", 0),
        "desiredReplicas": status.get("desiredReplicas", 0),
        "conditions": conditions,
    }
    if status.get("lastScaleTime"):
        out["lastScaleTime"] = status["lastScaleTime"]
    able = next((c for c in conditions if c["type"] == ABLE_TO_SCALE), None)
    if able is not None and able.get("message"):
        out["lastScaleReason"] = able["message"]
    return out


def autoscaler_events(given: SectionInput, now_status: Mapping[str, Any] | None) -> list[Event]:
    """An Event for each HPA condition whose status or reason differs from the one the last
    status recorded."""
    if now_status is None:
        return []
    before = ((given.previous.get("serving") or {}).get("autoscaling") or {})
    seen = {c.get("type"): (c.get("status"), c.get("reason"))
            for c in before.get("conditions") or []}
    events: list[Event] = []
    for cond in now_status["conditions"]:
        if seen.get(cond["type"]) == (cond["status"], cond.get("reason")):
            continue
        events.append(_event(str(now_status["name"]), cond, now_status))
    return events


def _event(name: str, cond: Mapping[str, Any], status: Mapping[str, Any]) -> Event:
    healthy = HEALTHY.get(cond["type"])
    kind: EventType = "Warning" if healthy is not None and cond["status"] != healthy else (
        "Normal")
    said = str(cond.get("message") or "").rstrip(".")
    message = one_sentence(
        f"HorizontalPodAutoscaler {name}: {cond['type']} is {cond['status']} "
        f"({cond.get('reason') or 'no reason'}) at {status['currentReplicas']} current, "
        f"{status['desiredReplicas']} desired replicas (bounds {status['minReplicas']}-"
        f"{status['maxReplicas']}): {said}.")
    return Event(kind, reasons.AUTOSCALER_CONDITION, message)


def _condition(raw: Mapping[str, Any]) -> Obj:
    return {key: str(raw[key]) for key in ("type", "status", "reason", "message")
            if raw.get(key) is not None}

