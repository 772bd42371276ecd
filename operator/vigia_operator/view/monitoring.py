"""A typed view of spec.monitoring (validated and defaulted by the CRD already).

Anything the schema could not rule out is refused with the field's path.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from vigia.confidence import DEFAULT_ALPHA, DEFAULT_MIN_PSI
from vigia.costs import CostTable, table_from_spec
from vigia.segments import MAX_SEGMENTS
from vigia_operator.core.fields import SpecError, parse_duration
from vigia_operator.view.task import is_regression

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
class CostSpec:
    """spec.monitoring.costs: each error's cost, and the highest acceptable expected cost
    per 1,000 predictions (None: measured and reported only)."""

    table: CostTable
    max: float | None = None


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
    # ConfidenceShift: the test's significance level and the least PSI worth reporting.
    confidence_shift_alpha: float = DEFAULT_ALPHA
    confidence_shift_min_psi: float = DEFAULT_MIN_PSI
    kpis: tuple[KPI, ...] = ()
    costs: CostSpec | None = None
    # Categorical features judged per value too (vigia.segments; the CRD bounds them).
    segments: tuple[str, ...] = ()
    # A regressor (spec.model.task Regression) is judged by its errors, not accuracy.
    error: ErrorSpec | None = None

    @property
    def regression(self) -> bool:
        return self.error is not None


@dataclass(frozen=True)
class ErrorSpec:
    """spec.monitoring.error: a regressor's errors, in the model's own units."""

    tolerance: float | None = None  # None: the server uses the bundle's abs_error_p90
    unit: str = ""
    max_beyond_tolerance: float = 0.1
    max_mae: float | None = None
    min_feedback: int = 100

    def amount(self, value: float) -> str:
        """``value`` in the model's units, e.g. "5 kg"."""
        return f"{value:.4g} {self.unit}".rstrip()


def parse_monitoring(spec: Mapping[str, Any]) -> MonitoringSpec:
    """spec.monitoring of a ModelDeployment's spec (missing parts take the CRD defaults)."""
    body = _section(spec, "monitoring", "spec.monitoring")
    drift = _section(body, "drift", "spec.monitoring.drift")
    accuracy = _section(body, "accuracy", "spec.monitoring.accuracy")
    confidence = _section(body, "confidence", "spec.monitoring.confidence")
    shift = _section(confidence, "shift", "spec.monitoring.confidence.shift")
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
        confidence_shift_alpha=_number(shift, "alpha", d.confidence_shift_alpha,
                                       "spec.monitoring.confidence.shift"),
        confidence_shift_min_psi=_number(shift, "minPsi", d.confidence_shift_min_psi,
                                         "spec.monitoring.confidence.shift"),
        kpis=tuple(_kpi(k, i) for i, k in enumerate(body.get("kpis") or [])),
        costs=_costs(body.get("costs")),
        segments=_segments(body.get("segments") or []),
        error=_error(_section(body, "error", "spec.monitoring.error")) if is_regression(spec)
        else None,
    )


def _error(body: Mapping[str, Any]) -> ErrorSpec:
    path = "spec.monitoring.error"
    d = ErrorSpec()
    tolerance = _optional_number(body, "tolerance", path)
    if tolerance is not None and tolerance <= 0:
        raise SpecError(f"{path}.tolerance", f"must be above 0, not {tolerance}")
    return ErrorSpec(
        tolerance=tolerance,
        unit=_get(body, "unit", str, d.unit, f"{path}.unit"),
        max_beyond_tolerance=_number(body, "maxBeyondTolerance", d.max_beyond_tolerance, path),
        max_mae=_optional_number(body, "maxMae", path),
        min_feedback=_get(body, "minFeedback", int, d.min_feedback, f"{path}.minFeedback"),
    )


def _costs(body: Any) -> CostSpec | None:
    field = "spec.monitoring.costs"
    if body is None:
        return None
    if not isinstance(body, Mapping):
        raise SpecError(field, "must be an object")
    errors = body.get("errors")
    if not isinstance(errors, list) or not errors:
        raise SpecError(f"{field}.errors", "must list at least one kind of error")
    seen: set[tuple[str, str]] = set()
    for i, item in enumerate(errors):
        path = f"{field}.errors[{i}]"
        if not isinstance(item, Mapping):
            raise SpecError(path, "must be an object")
        pair = (_get(item, "predicted", str, None, f"{path}.predicted"),
                _get(item, "actual", str, None, f"{path}.actual"))
        if pair[0] == pair[1]:
            raise SpecError(f"{path}.actual", "a correct prediction has no error cost")
        if pair in seen:
            raise SpecError(f"{field}.errors", f"two costs for predicted {pair[0]!r}, "
                            f"actual {pair[1]!r}")
        seen.add(pair)
        if _number(item, "cost", 0.0, path) < 0:
            raise SpecError(f"{path}.cost", "must be at least 0")
    unit = body.get("unit")
    if unit is not None and not isinstance(unit, str):
        raise SpecError(f"{field}.unit", "must be a string")
    return CostSpec(table_from_spec(errors, unit), _optional_number(body, "max", field))


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
