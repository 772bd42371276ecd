"""The monitoring section: status.monitoring and the Drifted, AccuracyLow, ConfidenceLow and
KPIViolated conditions, from one tick's signals (vigia_operator.analysis.evaluate).

Outside a tick (an event-triggered reconcile) there are no signals: the section and its
conditions are left as they are.
"""

from __future__ import annotations

from datetime import UTC, datetime

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
    return (SectionUpdate(SECTION, verdict.section, conditions),)


def _seconds(stamp: str) -> float:
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
