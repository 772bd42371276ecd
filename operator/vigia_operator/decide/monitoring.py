"""The monitoring decision: (spec.monitoring, measured signals, now) -> status and conditions.

Pure: no Prometheus, no Kubernetes. Every condition's message carries the numbers behind it.
A version is judged on its own series (its predictions against its own training reference):
right after a promotion the new version has few samples, and the verdict is
InsufficientData with its counts, never its predecessor's numbers. Too few samples is
InsufficientData (condition Unknown, with the counts); Prometheus
unreachable, or data older than ``stale_after_s``, is Unknown and keeps the previous
numbers untouched: nothing is decided on data that is not current.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final

from vigia import metrics
from vigia.confidence import ShiftTest, shift_test
from vigia.costs import figure
from vigia.segments import label
from vigia_operator.core import reasons
from vigia_operator.core.clock import DUE_SHARE, iso_from_unix
from vigia_operator.core.records import from_json, to_json
from vigia_operator.core.text import listed, one_sentence
from vigia_operator.core.types import Condition
from vigia_operator.decide.estimate import EstimateStatus, estimate
from vigia_operator.decide.measurements import ModelSignals, TrackSignals
from vigia_operator.decide.segments import (
    SHOWN,
    SegmentAccuracy,
    SegmentDrift,
    drifted_segments,
    low_accuracy,
    segment_accuracies,
)
from vigia_operator.view.monitoring import ErrorSpec, MonitoringSpec

CONDITION_TYPES: Final = (reasons.DRIFTED, reasons.ACCURACY_LOW, reasons.CONFIDENCE_LOW,
                          reasons.KPI_VIOLATED, reasons.PREDICTION_LOG_FAILING,
                          reasons.COST_HIGH, reasons.CONFIDENCE_SHIFT,
                          reasons.ESTIMATED_ACCURACY_LOW)
# Conditions whose Unknown does not make the whole verdict Unknown.
_OPTIONAL: Final = (reasons.KPI_VIOLATED, reasons.PREDICTION_LOG_FAILING, reasons.COST_HIGH,
                    reasons.CONFIDENCE_SHIFT, reasons.ESTIMATED_ACCURACY_LOW)

# status.monitoring.state, one word; the worst finding wins.
STATE_HEALTHY: Final = "Healthy"
STATE_DEGRADED: Final = "Degraded"
STATE_INSUFFICIENT: Final = "InsufficientData"
STATE_UNKNOWN: Final = "Unknown"
STATE_DISABLED: Final = "Disabled"


# Data older than this decides nothing: Prometheus's own staleness horizon (lookback delta),
# which also covers a rule group that runs every minute but takes long under load.
STALE_AFTER_S: Final = 300.0


@dataclass(frozen=True)
class Samples:
    predictions: int
    feedback: int


@dataclass(frozen=True)
class DriftStatus:
    statistic: str
    threshold: float
    features: tuple[str, ...] = ()  # drifted, worst first
    scores: Mapping[str, float] = field(default_factory=dict)  # every feature's score
    score: float | None = None  # the highest
    segments: tuple[SegmentDrift, ...] = ()  # drifted segment values, worst first


@dataclass(frozen=True)
class ConfidenceShiftStatus:
    """The live confidence distribution against the version's holdout reference: the
    chi-square of their bin counts, its p-value, the PSI of the bin mixes, the direction
    and the binned means."""

    direction: str
    psi: float
    statistic: float
    df: int
    p_value: float
    live_mean: float
    reference_mean: float
    reference_rows: int
    alpha: float
    min_psi: float


@dataclass(frozen=True)
class ConfidenceStatus:
    min: float
    mean: float | None = None
    below_min: float | None = None  # share of predictions below ``min``
    shift: ConfidenceShiftStatus | None = None


@dataclass(frozen=True)
class ClassStatus:
    """One class's recall (of its true rows, the share predicted as it) and precision (of
    the rows predicted as it, the share truly it), from the labelled feedback."""

    name: str
    recall: float | None = None
    precision: float | None = None


@dataclass(frozen=True)
class CostStatus:
    """The expected cost of the errors per 1,000 predictions, in spec.monitoring.costs.unit,
    from ``labels`` labelled predictions (95% interval ``low``..``high``), and the first
    value measured for the judged version (``reference``, at ``referenceAt``)."""

    unit: str
    max: float | None = None
    value: float | None = None
    low: float | None = None
    high: float | None = None
    labels: int | None = None
    reference: float | None = None
    reference_at: str | None = None


@dataclass(frozen=True)
class ErrorStatus:
    """A regressor's errors from feedback over the window, in its own units."""

    tolerance: float | None = None
    unit: str | None = None
    values: int | None = None
    beyond_tolerance: float | None = None
    mae: float | None = None
    rmse: float | None = None


@dataclass(frozen=True)
class KPIStatus:
    name: str
    min: float | None = None
    max: float | None = None
    value: float | None = None
    violated: bool | None = None
    error: str | None = None


@dataclass(frozen=True)
class MonitoringStatus:
    """status.monitoring: the numbers one evaluation measured and its one-word state; when
    nothing could be decided, why (``reason``, ``message``, ``checkedAt``) beside the last
    numbers, which keep their ``evaluatedAt``."""

    state: str = STATE_UNKNOWN
    evaluated_at: str | None = None
    data_as_of: str | None = None
    window: str | None = None
    track: str | None = None
    version: str | None = None  # the model version judged (the stable Deployment's)
    samples: Samples | None = None
    drift: DriftStatus | None = None
    accuracy: float | None = None
    feedback: int | None = None
    confidence: ConfidenceStatus | None = None
    error: ErrorStatus | None = None
    estimated_accuracy: EstimateStatus | None = None
    segment_accuracy: tuple[SegmentAccuracy, ...] = ()  # lowest first, at most SHOWN
    prediction_shift: float | None = None
    classes: tuple[ClassStatus, ...] = ()
    cost: CostStatus | None = None
    kpis: tuple[KPIStatus, ...] = ()
    reason: str | None = None
    message: str | None = None
    checked_at: str | None = None

    def to_status(self) -> dict[str, Any]:
        written: dict[str, Any] = to_json(self)
        return written

    @classmethod
    def from_status(cls, section: Any) -> MonitoringStatus | None:
        return from_json(cls, section)


@dataclass(frozen=True)
class MonitoringVerdict:
    """What the tick concluded for one ModelDeployment: the whole status.monitoring section
    (it replaces the previous one) and the monitoring conditions."""

    status: MonitoringStatus
    conditions: tuple[Condition, ...] = ()

    @property
    def section(self) -> dict[str, Any]:
        """The section as written."""
        return self.status.to_status()

    def condition(self, type_: str) -> Condition | None:
        return next((c for c in self.conditions if c.type == type_), None)


def monitoring_due(spec: MonitoringSpec, last: float | None, now: float) -> bool:
    """Whether a model evaluated at ``last`` (Unix time; None: never) is due at ``now``:
    each model at its own spec.monitoring.interval, on the operator's shared tick."""
    return last is None or now - last >= spec.interval_s * DUE_SHARE


def assess(
    spec: MonitoringSpec,
    signals: ModelSignals | None,
    *,
    now: float,
    unavailable: str | None = None,
    previous: Mapping[str, Any] | None = None,
    stale_after_s: float = STALE_AFTER_S,
    track: str = metrics.TRACK_STABLE,
    version: str | None = None,
) -> MonitoringVerdict:
    """Judge ``version`` on one ModelDeployment's ``track`` (the stable one: the rollout
    judges canaries) on its own series. ``version`` None: the only one the track has."""
    if not spec.enabled:
        return _all_unknown(previous, now, STATE_DISABLED, reasons.MONITORING_DISABLED,
                            "spec.monitoring.enabled is false")
    if unavailable is not None:
        return _all_unknown(previous, now, STATE_UNKNOWN, reasons.PROMETHEUS_UNAVAILABLE,
                            f"Prometheus could not be queried: {unavailable}")
    version, measured = _version_signals(signals, track, version)
    if measured is None or measured.last_scrape is None:
        return _all_unknown(previous, now, STATE_UNKNOWN, reasons.NO_DATA,
                            f"Prometheus has no metrics from the {track} model servers")
    age = now - measured.last_scrape
    if age > stale_after_s:
        return _all_unknown(previous, now, STATE_UNKNOWN, reasons.STALE_DATA,
                            f"the newest sample from the {track} model servers is {age:.0f}s old"
                            f" (limit {stale_after_s:.0f}s)")
    if measured.from_rules:
        if measured.rules_evaluated is None:
            return _all_unknown(previous, now, STATE_UNKNOWN, reasons.NO_DATA,
                                f"no recorded vigia:*:{spec.window} series: are the rules of"
                                " manifests/prometheus loaded in Prometheus?")
        lag = now - measured.rules_evaluated
        if lag > stale_after_s:
            return _all_unknown(previous, now, STATE_UNKNOWN, reasons.STALE_DATA,
                                f"the recording rules last ran {lag:.0f}s ago"
                                f" (limit {stale_after_s:.0f}s)")
    kpis, kpi_finding = _kpis(spec, signals or ModelSignals())
    of = "" if version is None else f" of version {version}"
    cost = _cost_status(spec, measured, version, previous, now)
    shift = _shift_test(spec, measured)
    estimated, estimate_finding = estimate(spec, measured, _count(measured.predictions), of)
    findings = [
        _drift(spec, measured, of),
        _accuracy(spec, measured, of) if spec.error is None else _error(spec.error, spec.window,
                                                                          measured, of),
        _confidence(spec, measured, of) if spec.error is None else _no_confidence(),
        kpi_finding,
        _prediction_log(measured),
        _cost(spec, cost, of),
        _confidence_shift(spec, measured, shift, of),
        estimate_finding,
    ]
    status = MonitoringStatus(
        state=_state(findings),
        evaluated_at=iso_from_unix(now),
        data_as_of=iso_from_unix(measured.last_scrape),
        window=spec.window,
        track=track,
        version=version,
        samples=Samples(_count(measured.predictions), _count(measured.feedback)),
        drift=_drift_section(spec, measured),
        accuracy=_round(measured.accuracy),
        feedback=_count(measured.feedback),
        confidence=None if spec.error is not None else ConfidenceStatus(
            min=spec.confidence_min, mean=_round(measured.confidence_mean),
            below_min=_round(measured.confidence_share_below(spec.confidence_min)),
            shift=_shift_status(spec, shift)),
        error=None if spec.error is None else _error_section(spec.error, measured),
        estimated_accuracy=estimated,
        segment_accuracy=tuple(segment_accuracies(spec, measured)[:SHOWN]),
        prediction_shift=_round(measured.prediction_shift),
        classes=_classes(measured),
        cost=cost,
        kpis=kpis,
    )
    return MonitoringVerdict(status, tuple(findings))


def _version_signals(signals: ModelSignals | None, track: str,
                     version: str | None) -> tuple[str | None, TrackSignals | None]:
    """The series of ``version`` on ``track``. A version the track has no series of yet
    while others are fresh (just promoted) has none of its own samples: empty signals, as
    fresh as the track's newest, so that it is judged InsufficientData with its counts.
    A version with no scrape time yet has no series either: a server's unrecorded gauges
    (vigia_prediction_log_up) reach Prometheus a rule evaluation before its recorded ones."""
    versions = {v: s for v, s in (signals.versions(track) if signals else {}).items()
                if s.last_scrape is not None}
    if version is None:
        if len(versions) != 1:
            return None, None
        ((version, only),) = versions.items()
        return version, only
    if version in versions:
        return version, versions[version]
    if not versions:
        return version, None
    newest = max(versions.values(), key=lambda v: v.last_scrape or 0.0)
    return version, TrackSignals(last_scrape=newest.last_scrape, from_rules=newest.from_rules,
                                 rules_evaluated=newest.rules_evaluated)


def _drift(spec: MonitoringSpec, m: TrackSignals, of: str = "") -> Condition:
    rows = _count(m.predictions)
    if rows < spec.drift_min_samples:
        return Condition(reasons.DRIFTED, "Unknown", reasons.INSUFFICIENT_DATA,
                       f"{rows} predictions{of} over {spec.window}; drift needs"
                       f" {spec.drift_min_samples}")
    scores = _scores(spec, m)
    if not scores:
        return Condition(reasons.DRIFTED, "Unknown", reasons.NO_DATA,
                       f"no {spec.statistic} scores for {rows} predictions over {spec.window}")
    drifted = _drifted(spec, scores)
    name = spec.statistic
    over = f"over {spec.window} ({rows} predictions{of})"
    segments = drifted_segments(spec, m)
    if segments and not drifted:
        first = segments[0]
        named = listed([d.named for d in segments])
        return Condition(reasons.DRIFTED, "True", reasons.SEGMENT_DRIFTED, one_sentence(
            f"{name} above {spec.drift_threshold:g} for {named} over {spec.window}"
            f" ({first.rows} predictions in {label(first.segment, first.value)}{of});"
            f" the whole population's highest is {max(scores.values()):.3f}"))
    if drifted:
        # Every feature's score is in status.monitoring.drift.scores.
        shown = listed([f"{f} ({scores[f]:.3f})" for f in drifted])
        return Condition(reasons.DRIFTED, "True", reasons.FEATURES_DRIFTED, one_sentence(
            f"{name} above {spec.drift_threshold:g} for {shown} {over}"))
    worst = max(scores, key=lambda f: scores[f])
    return Condition(reasons.DRIFTED, "False", reasons.NO_DRIFT, one_sentence(
        f"highest {name} {scores[worst]:.3f} ({worst}) is within {spec.drift_threshold:g} "
        f"{over}"))


def _accuracy(spec: MonitoringSpec, m: TrackSignals, of: str = "") -> Condition:
    labels = _count(m.feedback)
    if labels < spec.accuracy_min_feedback or m.accuracy is None:
        return Condition(reasons.ACCURACY_LOW, "Unknown", reasons.INSUFFICIENT_DATA,
                       f"{labels} feedback labels{of} over {spec.window}; accuracy needs"
                       f" {spec.accuracy_min_feedback}")
    detail = (f"accuracy {m.accuracy:.3f} from {labels} feedback labels{of} over {spec.window}"
              f" (minimum {spec.accuracy_min})")
    if m.accuracy < spec.accuracy_min:
        return Condition(reasons.ACCURACY_LOW, "True", reasons.ACCURACY_BELOW_MIN, detail)
    low = low_accuracy(spec, m)
    if low:
        worst = low[0]
        return Condition(reasons.ACCURACY_LOW, "True", reasons.SEGMENT_ACCURACY_BELOW_MIN,
                         one_sentence(
            f"accuracy {worst.accuracy:.2f} for {label(worst.segment, worst.value)} over"
            f" {spec.window}, {worst.feedback} labels{of} (minimum {spec.accuracy_min}; the"
            f" whole population's {m.accuracy:.3f} from {labels} labels)"
            + (f"; also {listed([a.named for a in low[1:]])}" if len(low) > 1 else "")))
    return Condition(reasons.ACCURACY_LOW, "False", reasons.ACCURACY_OK, detail)


def _error(spec: ErrorSpec, window: str, m: TrackSignals, of: str = "") -> Condition:
    """A regressor's AccuracyLow, in its units: "off by more than 5 kg on 212 of 3000
    predictions (7.1%, maximum 10%); MAE 2.1 kg, RMSE 3.4 kg"."""
    values = _count(m.feedback)
    beyond = m.beyond_tolerance
    if values < spec.min_feedback or beyond is None:
        return Condition(reasons.ACCURACY_LOW, "Unknown", reasons.INSUFFICIENT_DATA,
                         f"{values} feedback values{of} over {window}; the error needs"
                         f" {spec.min_feedback}")
    tolerance = ("its tolerance" if spec.tolerance is None
                 else spec.amount(spec.tolerance))
    errors = "" if m.mae is None or m.rmse is None else (
        f"; MAE {spec.amount(m.mae)}, RMSE {spec.amount(m.rmse)}")
    mae_limit = "" if spec.max_mae is None else f", MAE at most {spec.amount(spec.max_mae)}"
    detail = one_sentence(
        f"off by more than {tolerance} on {round(beyond * values)} of {values} predictions"
        f"{of} ({beyond:.1%}, maximum {spec.max_beyond_tolerance:.1%}{mae_limit}) over"
        f" {window}{errors}")
    too_high = beyond > spec.max_beyond_tolerance or (
        spec.max_mae is not None and m.mae is not None and m.mae > spec.max_mae)
    if too_high:
        return Condition(reasons.ACCURACY_LOW, "True", reasons.ERROR_ABOVE_MAX, detail)
    return Condition(reasons.ACCURACY_LOW, "False", reasons.ERROR_OK, detail)


def _error_section(spec: ErrorSpec, m: TrackSignals) -> ErrorStatus:
    return ErrorStatus(tolerance=spec.tolerance, unit=spec.unit or None,
                       values=_count(m.feedback_values) if m.feedback_values is not None
                       else None,
                       beyond_tolerance=_round(m.beyond_tolerance), mae=_round(m.mae),
                       rmse=_round(m.rmse))


def _no_confidence() -> Condition:
    return Condition(reasons.CONFIDENCE_LOW, "False", reasons.NO_CONFIDENCE,
                     "a regressor has no class probabilities; its errors are judged instead")


def _confidence(spec: MonitoringSpec, m: TrackSignals, of: str = "") -> Condition:
    rows = _count(m.predictions)
    if rows < spec.drift_min_samples or m.confidence_mean is None:
        return Condition(reasons.CONFIDENCE_LOW, "Unknown", reasons.INSUFFICIENT_DATA,
                       f"{rows} predictions{of} over {spec.window}; confidence needs"
                       f" {spec.drift_min_samples}")
    below = m.confidence_share_below(spec.confidence_min)
    share = f"; {below:.1%} of predictions below it" if below is not None else ""
    detail = (f"mean confidence {m.confidence_mean:.3f}{of} over {spec.window}"
              f" (minimum {spec.confidence_min}{share})")
    if m.confidence_mean < spec.confidence_min:
        return Condition(reasons.CONFIDENCE_LOW, "True", reasons.CONFIDENCE_BELOW_MIN, detail)
    return Condition(reasons.CONFIDENCE_LOW, "False", reasons.CONFIDENCE_OK, detail)


def _kpis(spec: MonitoringSpec,
          signals: ModelSignals) -> tuple[tuple[KPIStatus, ...], Condition]:
    if not spec.kpis:
        return (), Condition(reasons.KPI_VIOLATED, "False",
                             reasons.NO_KPIS, "no KPIs in spec.monitoring.kpis")
    rows: list[KPIStatus] = []
    violated: list[str] = []
    missing: list[str] = []
    for kpi in spec.kpis:
        value = signals.kpis.get(kpi.name)
        row = KPIStatus(kpi.name, kpi.min, kpi.max)
        if value is None:
            error = signals.kpi_errors.get(kpi.name, "the query returned no sample")
            missing.append(f"{kpi.name}: {error}")
            row = replace(row, error=error)
        else:
            row = replace(row, value=_round(value), violated=kpi.violated_by(value))
            if row.violated:
                violated.append(f"{kpi.name} = {value:.4g} (bounds {_bounds(kpi.min, kpi.max)})")
    # Every KPI's value, bounds and error are in status.monitoring.kpis.
        rows.append(row)
    if violated:
        return tuple(rows), Condition(reasons.KPI_VIOLATED, "True",
                               reasons.KPIS_VIOLATED, one_sentence(listed(violated, sep="; ")))
    if missing:
        return tuple(rows), Condition(reasons.KPI_VIOLATED, "Unknown",
                               reasons.KPI_QUERY_FAILED, one_sentence(listed(missing, 1)))
    met = listed([f"{r.name} = {r.value:.4g}" for r in rows if r.value is not None], 3)
    return tuple(rows), Condition(reasons.KPI_VIOLATED, "False",
                           reasons.KPIS_MET, one_sentence(f"all KPIs within bounds: {met}"))


def _shift_test(spec: MonitoringSpec, m: TrackSignals) -> ShiftTest | None:
    rows = _count(m.predictions)
    if rows < spec.drift_min_samples or not m.confidence_reference:
        return None
    return shift_test(m.confidence_reference, _count(m.confidence_reference_rows),
                      m.confidence_below, rows)


def _shift_status(spec: MonitoringSpec, test: ShiftTest | None) -> ConfidenceShiftStatus | None:
    if test is None:
        return None
    return ConfidenceShiftStatus(
        direction=test.direction, psi=round(test.psi, 4), statistic=round(test.statistic, 2),
        df=test.df, p_value=float(f"{test.p_value:.3g}"), live_mean=round(test.live_mean, 4),
        reference_mean=round(test.reference_mean, 4), reference_rows=test.reference_rows,
        alpha=spec.confidence_shift_alpha, min_psi=spec.confidence_shift_min_psi)


def _confidence_shift(spec: MonitoringSpec, m: TrackSignals, test: ShiftTest | None,
                      of: str = "") -> Condition:
    rows = _count(m.predictions)
    if rows < spec.drift_min_samples:
        return Condition(reasons.CONFIDENCE_SHIFT, "Unknown", reasons.INSUFFICIENT_DATA,
                         f"{rows} predictions{of} over {spec.window}; the confidence shift"
                         f" needs {spec.drift_min_samples}")
    if test is None:
        return Condition(reasons.CONFIDENCE_SHIFT, "Unknown", reasons.NO_CONFIDENCE_REFERENCE,
                         "the model servers export no holdout confidence reference "
                         f"({metrics.CONFIDENCE_REFERENCE}: a bundle or server older than it)")
    holdout = (f"{test.reference_rows} holdout rows" if test.reference_rows
               else "the holdout (rows unknown)")
    detail = (f"binned mean {test.live_mean:.3f} against {test.reference_mean:.3f} on "
              f"{holdout}, PSI {test.psi:.3f}, chi-square {test.statistic:.1f} ({test.df} df, "
              f"p {_p(test.p_value)}), {rows} predictions{of} over {spec.window}")
    if test.shifted(spec.confidence_shift_alpha, spec.confidence_shift_min_psi):
        return Condition(reasons.CONFIDENCE_SHIFT, "True", reasons.CONFIDENCE_SHIFTED,
                         one_sentence(f"confidence {test.direction}: {detail}"))
    # The limits applied (alpha, minPsi) are in status.monitoring.confidence.shift.
    return Condition(reasons.CONFIDENCE_SHIFT, "False", reasons.CONFIDENCE_STEADY,
                     one_sentence(f"confidence as on the holdout: {detail}"))


def _p(value: float) -> str:
    return "< 0.0001" if value < 1e-4 else f"= {value:.2g}"


def _cost_status(spec: MonitoringSpec, m: TrackSignals, version: str | None,
                 previous: Mapping[str, Any] | None, now: float) -> CostStatus | None:
    """The cost of the judged version's labelled errors; its reference is the first value
    measured for that version (kept from the previous section while the version stays)."""
    if spec.costs is None:
        return None
    table = spec.costs.table
    base = CostStatus(unit=table.unit, max=spec.costs.max)
    estimate = table.estimate(m.confusion)
    if estimate is None or estimate.rows < spec.accuracy_min_feedback:
        return replace(base, labels=estimate.rows if estimate else 0)
    last = MonitoringStatus.from_status(previous) if previous else None
    kept = last.cost if last is not None and last.version == version else None
    reference, reference_at = (
        (kept.reference, kept.reference_at) if kept is not None and kept.reference is not None
        else (_round(estimate.value), iso_from_unix(now)))
    return replace(base, value=_round(estimate.value),
                   low=_round(estimate.value - estimate.half_width),
                   high=_round(estimate.value + estimate.half_width),
                   labels=estimate.rows, reference=reference, reference_at=reference_at)


def _cost(spec: MonitoringSpec, cost: CostStatus | None, of: str = "") -> Condition:
    if spec.costs is None or cost is None:
        return Condition(reasons.COST_HIGH, "False", reasons.NO_COSTS,
                         "no error costs in spec.monitoring.costs")
    table = spec.costs.table
    if cost.value is None:
        return Condition(reasons.COST_HIGH, "Unknown", reasons.INSUFFICIENT_DATA,
                         f"{cost.labels or 0} labelled predictions{of} over {spec.window};"
                         f" the cost needs {spec.accuracy_min_feedback}")
    detail = f"expected cost {table.amount(cost.value)}{_trend(cost)}"
    where = f"from {cost.labels} labelled predictions{of} over {spec.window}"
    if spec.costs.max is None:
        return Condition(reasons.COST_HIGH, "False", reasons.COST_UNBOUNDED, one_sentence(
            f"{detail} {where} (no maximum set)"))
    bound = f"{where} (maximum {figure(spec.costs.max)})"
    if cost.value > spec.costs.max:
        return Condition(reasons.COST_HIGH, "True", reasons.COST_ABOVE_MAX,
                         one_sentence(f"{detail} {bound}"))
    return Condition(reasons.COST_HIGH, "False", reasons.COST_OK,
                     one_sentence(f"{detail} {bound}"))


def _trend(cost: CostStatus) -> str:
    """", up from 230" against the version's first measured cost, when it moved."""
    if cost.reference is None or cost.value is None or round(cost.value) == round(
            cost.reference):
        return ""
    direction = "up" if cost.value > cost.reference else "down"
    return f", {direction} from {figure(cost.reference)}"


def _classes(m: TrackSignals) -> tuple[ClassStatus, ...]:
    names = sorted({*m.class_recall, *m.class_precision})
    return tuple(ClassStatus(n, _round(m.class_recall.get(n)), _round(m.class_precision.get(n)))
                 for n in names)


def _scores(spec: MonitoringSpec, m: TrackSignals) -> dict[str, float]:
    return m.feature_psi if spec.statistic == "PSI" else m.feature_jensen_shannon


def _drifted(spec: MonitoringSpec, scores: Mapping[str, float]) -> list[str]:
    over = [f for f, s in scores.items() if s > spec.drift_threshold]
    return sorted(over, key=lambda f: -scores[f])


def _drift_section(spec: MonitoringSpec, m: TrackSignals) -> DriftStatus:
    scores = _scores(spec, m)
    enough = _count(m.predictions) >= spec.drift_min_samples
    return DriftStatus(
        statistic=spec.statistic,
        threshold=spec.drift_threshold,
        score=_round(max(scores.values())) if scores else None,
        features=tuple(_drifted(spec, scores)) if enough else (),
        scores={f: round(s, 4) for f, s in sorted(scores.items())},
        segments=tuple(drifted_segments(spec, m)[:SHOWN]) if enough else (),
    )


def _state(findings: list[Condition]) -> str:
    if any(f.status == "True" for f in findings):
        return STATE_DEGRADED
    if any(f.reason == reasons.INSUFFICIENT_DATA for f in findings if f.type not in _OPTIONAL):
        return STATE_INSUFFICIENT
    if any(f.status == "Unknown" for f in findings if f.type not in _OPTIONAL):
        return STATE_UNKNOWN
    return STATE_HEALTHY


def _prediction_log(m: TrackSignals) -> Condition:
    """Whether the servers can write the prediction log (their vigia_prediction_log_up)."""
    if m.log_up is None:
        # Routine (a Normal Event): servers not scraped yet since they started, or older
        # servers without the metric; nothing a person must act on.
        return Condition(reasons.PREDICTION_LOG_FAILING, "Unknown", reasons.INSUFFICIENT_DATA,
                         "no prediction-log health from the model servers yet")
    waiting = _count(m.log_buffered)
    if m.log_up < 1:
        return Condition(reasons.PREDICTION_LOG_FAILING, "True", reasons.LOG_UNWRITABLE,
                         f"a model server cannot reach the prediction log's database: "
                         f"predictions are served and {waiting} rows wait in memory; "
                         "feedback is refused (503) until it is back")
    return Condition(reasons.PREDICTION_LOG_FAILING, "False", reasons.LOG_WRITABLE,
                     f"the model servers write the prediction log ({waiting} rows waiting)")


def _all_unknown(
    previous: Mapping[str, Any] | None,
    now: float,
    state: str,
    reason: str,
    message: str,
) -> MonitoringVerdict:
    # The last numbers stay (with their evaluatedAt) so nobody mistakes them for current.
    last = MonitoringStatus.from_status(previous) or MonitoringStatus(state)
    status = replace(last, state=state, reason=reason, message=message,
                     checked_at=iso_from_unix(now))
    # The condition says it in one sentence; status.monitoring.message keeps it whole.
    findings = tuple(Condition(t, "Unknown", reason, one_sentence(message))
                     for t in CONDITION_TYPES)
    return MonitoringVerdict(status, findings)


def _bounds(low: float | None, high: float | None) -> str:
    return f"[{'-inf' if low is None else low}, {'+inf' if high is None else high}]"


def _count(value: float | None) -> int:
    # increase() extrapolates to the window's edges; counts are whole numbers.
    return 0 if value is None else round(value)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)

