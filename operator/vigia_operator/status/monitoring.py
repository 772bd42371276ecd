"""The monitoring section: status.monitoring and the Drifted, AccuracyLow, ConfidenceLow and
KPIViolated conditions, from one tick's signals (vigia_operator.decide.monitoring).

Outside a tick (an event-triggered reconcile), and on a tick that did not evaluate the model
(its spec.monitoring.interval is not due yet), the section and its conditions are left as
they are.

The section replaces the previous one: a field it no longer has (the reason of an Unknown
once Prometheus is back, an accuracy once no feedback is left in the window) goes, as the
status writer sends it as null in its merge patch (``status.writer.merge_patch``).

A tick that decides what the previous one decided (every condition's status and reason,
the state, the drifted features and violated KPIs, for the same generation) on sample
counts of the same order (none stays none, some stays within a factor of
``SAMPLES_FACTOR``) rewrites the section only once the written one is between
``REFRESH_S`` and twice that old (a fixed
point of that range per object, so that models evaluated together do not all rewrite on
the same tick): every tick's new numbers would otherwise be a status write per model per
tick (1,000 models: 1,000 writes, 25-50 s of a tick on this machine's API server). A
decision is written on the tick that makes it, and so is a model's first traffic or a
count doubled or halved (a status saying 0 predictions for minutes after the traffic came
is not one a person can trust); the operator's /metrics gauges follow every tick.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from vigia_operator.core.clock import unix
from vigia_operator.core.types import MONITORING, MONITORING_AT
from vigia_operator.decide.measurements import ModelSignals
from vigia_operator.decide.monitoring import MonitoringVerdict, assess
from vigia_operator.status.conditions import find
from vigia_operator.status.sections import SectionInput, SectionUpdate

SECTION = "monitoring"
# How old an unchanged verdict's section may get before a tick rewrites it (at least).
REFRESH_S: Final = 300.0
# Sample counts this many times apart are news (rewritten at once); closer ones wait.
SAMPLES_FACTOR: Final = 2.0


@dataclass(frozen=True)
class MonitoringOutcome:
    """The section to write (None: leave it) and the verdict behind it (None: the model was
    not evaluated this tick), which the engine also publishes on the operator's /metrics."""

    update: SectionUpdate | None = None
    verdict: MonitoringVerdict | None = None


def monitoring_section(given: SectionInput) -> MonitoringOutcome:
    """Judge the tick's monitoring signals, when the tick evaluated this model (its
    spec.monitoring.interval was due: ``MONITORING_AT`` is set) and only then."""
    signals = given.signals
    if signals is None or MONITORING_AT not in signals.values:
        return MonitoringOutcome()
    measured = signals.values.get(MONITORING)
    at = signals.values[MONITORING_AT]
    now = float(at) if isinstance(at, (int, float)) else given.now.timestamp()
    verdict = assess(
        given.md.monitoring,
        measured if isinstance(measured, ModelSignals) else None,
        now=now,
        unavailable=signals.error,
        previous=given.previous.get(SECTION),
        version=given.md.model.version,  # the version the stable Deployment serves
    )
    if _same_decision(given, verdict) and now - _written_at(given) < refresh_after(given.md.uid):
        return MonitoringOutcome(verdict=verdict)
    return MonitoringOutcome(SectionUpdate(SECTION, verdict.section, tuple(verdict.conditions)),
                             verdict)


def refresh_after(uid: str) -> float:
    """Seconds after which this object's unchanged section is rewritten: in [REFRESH_S,
    2 * REFRESH_S), fixed by its uid."""
    return REFRESH_S * (1 + zlib.crc32(uid.encode()) % 1000 / 1000)


def _same_decision(given: SectionInput, verdict: MonitoringVerdict) -> bool:
    previous = given.previous.get(SECTION)
    if not isinstance(previous, Mapping):
        return False
    written = given.previous.get("conditions") or []
    for finding in verdict.conditions:
        old = find(written, finding.type)
        if old is None or (old.get("status"), old.get("reason"), old.get("observedGeneration")
                           ) != (finding.status, finding.reason, given.md.generation):
            return False
    new = verdict.section
    return bool(
        previous.get("state") == new.get("state")
        and previous.get("reason") == new.get("reason")
        and _drifted(previous) == _drifted(new)
        and _violated(previous) == _violated(new)
        and _same_order(previous.get("samples"), new.get("samples"))
    )


def _same_order(before: Any, after: Any) -> bool:
    """Both sections count each kind of sample alike: none in both, or some in both
    within a factor of SAMPLES_FACTOR."""
    before, after = before or {}, after or {}
    for kind in {*before, *after}:
        old, new = float(before.get(kind) or 0), float(after.get(kind) or 0)
        if (old == 0) != (new == 0) or (old and max(old, new) / min(old, new) >= SAMPLES_FACTOR):
            return False
    return True


def _drifted(section: Mapping[str, Any]) -> Any:
    return (section.get("drift") or {}).get("features")


def _violated(section: Mapping[str, Any]) -> list[Any]:
    return [(k.get("name"), k.get("violated")) for k in section.get("kpis") or []]


def _written_at(given: SectionInput) -> float:
    """When the section was last written (its evaluation, or its last undecided look)."""
    previous = given.previous.get(SECTION) or {}
    # A stamp that is not ours reads as never: rewrite.
    return max((unix(previous.get(key)) or 0.0 for key in ("evaluatedAt", "checkedAt")),
               default=0.0)

