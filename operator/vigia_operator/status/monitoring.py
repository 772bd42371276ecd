"""The monitoring section: status.monitoring and the Drifted, AccuracyLow, ConfidenceLow and
KPIViolated conditions, from one tick's signals (vigia_operator.analysis.evaluate).

Outside a tick (an event-triggered reconcile) there are no signals: the section and its
conditions are left as they are.

The section replaces the previous one, but the status is written as a merge patch, which
keeps any field it does not name: a field the new section lacks (the reason of an Unknown
once Prometheus is back, an accuracy once no feedback is left in the window) is written as
null, so it is removed rather than left standing beside the new numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from vigia_operator.analysis.evaluate import evaluate
from vigia_operator.analysis.exporter import OperatorMetrics
from vigia_operator.analysis.signals import ModelSignals
from vigia_operator.analysis.tick_provider import COLLECTED_AT, MONITORING
from vigia_operator.status.conditions import Condition
from vigia_operator.status.sections import SectionInput, SectionUpdate

SECTION = "monitoring"
# The operator's /metrics, set by analysis.providers when it serves them.
EXPORTED: list[OperatorMetrics] = []


def monitoring_sections(given: SectionInput) -> tuple[SectionUpdate, ...]:
    signals = given.signals
    if signals is None:
        return ()
    measured = signals.values.get(MONITORING)
    at = signals.values.get(COLLECTED_AT)
    now = float(at) if isinstance(at, (int, float)) else _seconds(given.now)
    verdict = evaluate(
        given.md.monitoring,
        measured if isinstance(measured, ModelSignals) else None,
        now=now,
        unavailable=signals.error,
        previous=given.previous.get(SECTION),
    )
    for exported in EXPORTED:
        exported.publish((given.md.namespace, given.md.name), verdict)
    conditions = tuple(Condition(f.type, f.status, f.reason, f.message)
                       for f in verdict.conditions)
    section = with_removals(given.previous.get(SECTION), verdict.section)
    return (SectionUpdate(SECTION, section, conditions),)


def with_removals(previous: Any, new: Mapping[str, Any]) -> dict[str, Any]:
    """``new``, with null for every field of ``previous`` it no longer has (in nested
    objects too; lists are replaced whole by a merge patch)."""
    merged = dict(new)
    if not isinstance(previous, Mapping):
        return merged
    for key, old in previous.items():
        if key not in merged:
            merged[key] = None
        elif isinstance(old, Mapping) and isinstance(merged[key], Mapping):
            merged[key] = with_removals(old, merged[key])
    return merged


def _seconds(stamp: str) -> float:
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
