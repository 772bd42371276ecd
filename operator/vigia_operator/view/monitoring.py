"""A typed view of spec.monitoring (validated and defaulted by the CRD already).

Anything the schema could not rule out is refused with the field's path.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from vigia.segments import MAX_SEGMENTS
from vigia_operator.core.fields import SpecError, parse_duration

Statistic = Literal["PSI", "JensenShannon"]


@dataclass(frozen=True)
class KPI:
    name: str
    query: str
    min: float | None
    max: float | None

    def violated_by(self, value: float) -> bool:
        return (self.min is not None and value < self.min) or (
            self.max is not None and value > self.max
        )


@dataclass(frozen=True)
class MonitoringSpec:
    enabled: bool = True
    interval_s: float = 60.0
    window: str = "1h"
    statistic: Statistic = "PSI"
    drift_threshold: float = 0.2
    drift_min_samples: int = 500
    accuracy_min: float = 0.85
    accuracy_min_feedback: int = 100
    confidence_min: float = 0.6
    kpis: tuple[KPI, ...] = ()
    # Categorical features judged per value too (vigia.segments; the CRD bounds them).
    segments: tuple[str, ...] = ()


def parse_monitoring(spec: Mapping[str, Any]) -> MonitoringSpec:
    """spec.monitoring of a ModelDeployment's spec (missing parts take the CRD defaults)."""
    body = _section(spec, "monitoring", "spec.monitoring")
    drift = _section(body, "drift", "spec.monitoring.drift")
    accuracy = _section(body, "accuracy", "spec.monitoring.accuracy")
    confidence = _section(body, "confidence", "spec.monitoring.confidence")
    d = MonitoringSpec()
    window = _get(body, "window", str, d.window, "spec.monitoring.window")
    interval = _get(body, "interval", str, "1m", "spec.monitoring.interval")
    parse_duration(window, "spec.monitoring.window")
    statistic = _get(drift, "statistic", str, d.statistic, "spec.monitoring.drift.statistic")
    if statistic not in ("PSI", "JensenShannon"):
        raise SpecError("spec.monitoring.drift.statistic", f"unknown {statistic!r}")
    return MonitoringSpec(
        enabled=_get(body, "enabled", bool, d.enabled, "spec.monitoring.enabled"),
        interval_s=parse_duration(interval, "spec.monitoring.interval"),
        window=window,
        statistic=statistic,
        drift_threshold=_number(drift, "threshold", d.drift_threshold, "spec.monitoring.drift"),
        drift_min_samples=_get(
            drift, "minSamples", int, d.drift_min_samples, "spec.monitoring.drift.minSamples"
        ),
        accuracy_min=_number(accuracy, "min", d.accuracy_min, "spec.monitoring.accuracy"),
        accuracy_min_feedback=_get(
            accuracy, "minFeedback", int, d.accuracy_min_feedback,
            "spec.monitoring.accuracy.minFeedback",
        ),
        confidence_min=_number(confidence, "min", d.confidence_min, "spec.monitoring.confidence"),
        kpis=tuple(_kpi(k, i) for i, k in enumerate(body.get("kpis") or [])),
        segments=_segments(body.get("segments") or []),
    )


def _segments(items: Any) -> tuple[str, ...]:
    if not isinstance(items, list) or not all(isinstance(i, str) and i for i in items):
        raise SpecError("spec.monitoring.segments", "must be a list of feature names")
    if len(items) > MAX_SEGMENTS:
        raise SpecError("spec.monitoring.segments", f"at most {MAX_SEGMENTS} features")
    return tuple(dict.fromkeys(items))


def _kpi(item: Any, index: int) -> KPI:
    field = f"spec.monitoring.kpis[{index}]"
    if not isinstance(item, Mapping):
        raise SpecError(field, "must be an object")
    name = _get(item, "name", str, None, f"{field}.name")
    query = _get(item, "query", str, None, f"{field}.query")
    low = _optional_number(item, "min", field)
    high = _optional_number(item, "max", field)
    if low is None and high is None:
        raise SpecError(field, "a KPI needs min, max or both")
    return KPI(name=name, query=query, min=low, max=high)


def _section(body: Mapping[str, Any], key: str, field: str) -> Mapping[str, Any]:
    value = body.get(key) or {}
    if not isinstance(value, Mapping):
        raise SpecError(field, "must be an object")
    return value


def _get(body: Mapping[str, Any], key: str, kind: type, default: Any, field: str) -> Any:
    value = body.get(key, default)
    if value is None or not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise SpecError(field, f"must be {kind.__name__}, got {value!r}")
    return value


def _number(body: Mapping[str, Any], key: str, default: float, parent: str) -> float:
    value = body.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(f"{parent}.{key}", f"must be a number, got {value!r}")
    return float(value)


def _optional_number(body: Mapping[str, Any], key: str, parent: str) -> float | None:
    if body.get(key) is None:
        return None
    return _number(body, key, 0.0, parent)
