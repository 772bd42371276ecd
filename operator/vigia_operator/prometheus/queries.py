"""PromQL of every monitoring signal, rendered apart from where it runs.

Each query covers every ModelDeployment at once: it is grouped by (namespace, model, track,
version) — plus feature, bin, class or le where the signal has them — so the number of queries per
tick depends on the signals, never on the number of models. Counters are turned into counts
over the window with increase() per series (per replica) and summed afterwards, so replica
restarts and scale changes do not distort them.

A signal is built from *parts* (counts per bin over the window, their shares, the training
reference...). For a window the shipped recording rules cover (``RULE_WINDOWS``), every part
and signal is a recorded series (``vigia:<name>:<window>``, rules.py): Prometheus computes
each increase() once a minute and the operator's queries are plain selectors. For any other
window the same expressions are inlined into the query, so any window works, at a higher
cost per tick.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from vigia import drift, metrics

# Split by version too: a version is judged on its own predictions against its own training
# reference, never on a window that mixes in its predecessor's traffic.
KEY = ", ".join((*metrics.TRACK_KEY_LABELS, metrics.LABEL_VERSION))
DURATION = re.compile(r"^([0-9]+(ms|s|m|h|d|w|y))+$")
# Windows the shipped rules record (manifests/prometheus); keep in step with rules.py.
RULE_WINDOWS: frozenset[str] = frozenset({"1h"})


class Signal(StrEnum):
    """One thing measured for every ModelDeployment track; one query each per window."""

    FEATURE_ROWS = "feature_rows"
    FEATURE_PSI = "feature_psi"
    FEATURE_JENSEN_SHANNON = "feature_jensen_shannon"
    PREDICTIONS = "predictions"
    PREDICTION_SHIFT = "prediction_shift"
    FEEDBACK = "feedback"
    ACCURACY = "accuracy"
    # A regressor's: feedback values, their mean absolute and root mean squared error (in
    # the model's units) and the share off by more than the server's tolerance.
    FEEDBACK_VALUES = "feedback_values"
    MAE = "mae"
    RMSE = "rmse"
    BEYOND_TOLERANCE = "beyond_tolerance"
    CONFIDENCE_MEAN = "confidence_mean"
    CONFIDENCE_BELOW = "confidence_below"
    # From the confusion counters (feedback whose true class is known), per class:
    CONFUSION = "confusion"  # labelled predictions per (actual, predicted) cell
    CLASS_RECALL = "class_recall"  # share of a true class's rows predicted as it
    CLASS_PRECISION = "class_precision"  # share of a predicted class's rows truly it
    # The model's confidence on its holdout (bundle time): cumulative share per le, its rows.
    CONFIDENCE_REFERENCE = "confidence_reference"
    CONFIDENCE_REFERENCE_ROWS = "confidence_reference_rows"
    # Estimated accuracy without labels (vigia.calibration): only versions whose bundle
    # passed its calibration check export the counter, so only they have an estimate.
    ESTIMATED_ACCURACY = "estimated_accuracy"
    CALIBRATION_ERROR = "calibration_error"
    # Per value of each segment feature (vigia.segments): rows and drift of every feature.
    SEGMENT_ROWS = "segment_rows"
    SEGMENT_PSI = "segment_psi"
    SEGMENT_JENSEN_SHANNON = "segment_jensen_shannon"
    # Per value of each segment feature: feedback and accuracy (by the prediction's inputs).
    SEGMENT_FEEDBACK = "segment_feedback"
    SEGMENT_ACCURACY = "segment_accuracy"
    LAST_SCRAPE = "last_scrape"
    LOG_UP = "log_up"
    LOG_BUFFERED = "log_buffered"


# Signals that need no window (instant facts), queried once per tick.
INSTANT_SIGNALS = frozenset({Signal.LAST_SCRAPE, Signal.LOG_UP, Signal.LOG_BUFFERED,
                             Signal.CONFIDENCE_REFERENCE, Signal.CONFIDENCE_REFERENCE_ROWS,
                             Signal.CALIBRATION_ERROR})
# Instant signals the shipped rules do not record (a plain selector costs nothing).
UNRECORDED_SIGNALS = frozenset({Signal.LOG_UP, Signal.LOG_BUFFERED, Signal.CONFIDENCE_REFERENCE,
                                Signal.CONFIDENCE_REFERENCE_ROWS, Signal.CALIBRATION_ERROR})
# With recorded signals: when the rules last ran (their series' timestamps).
RULES_EVALUATED = "rules_evaluated"


class QueryInputError(ValueError):
    """A window that is not a PromQL duration."""


@dataclass(frozen=True)
class Query:
    """One PromQL instant query and what it measures (a Signal, or RULES_EVALUATED)."""

    signal: str
    window: str
    promql: str


Ref = Callable[[str], str]  # part name -> PromQL for it (recorded name or inline expression)


def record_name(name: str, window: str) -> str:
    """``vigia:<name>:<window>``, e.g. vigia:feature_psi:1h."""
    return f"{metrics.PREFIX}:{name}:{window}"


def _by(*extra: str) -> str:
    return ", ".join([KEY, *extra])


def _increase(series: str, window: str, *extra: str, matcher: str = "") -> str:
    return f"sum by ({_by(*extra)}) (increase({series}{matcher}[{window}]))"


def _shares(counts: str, part: str, *group: str) -> str:
    """Each ``part``'s share of its group's count (groups with no rows are dropped)."""
    return f"{counts} / ignoring ({part}) group_left () (sum by ({_by(*group)}) ({counts}) > 0)"


def _psi(observed: str, expected: str, *group: str) -> str:
    """PSI with vigia.drift's smoothing: both shares floored at drift.EPSILON."""
    o = f"clamp_min({observed}, {drift.EPSILON!r})"
    e = f"clamp_min({expected}, {drift.EPSILON!r})"
    return f"sum by ({_by(*group)}) (({o} - {e}) * ln({o} / {e}))"


def _jensen_shannon(p: str, q: str, *group: str) -> str:
    """Jensen-Shannon distance, base 2, as vigia.drift (a zero share contributes nothing)."""
    m = f"(({p} + {q}) / 2)"
    half_p = f"sum by ({_by(*group)}) (({p} * log2({p} / {m})) and ({p} > 0))"
    half_q = f"sum by ({_by(*group)}) (({q} * log2({q} / {m})) and ({q} > 0))"
    return f"sqrt(clamp_min(({half_p} + {half_q}) / 2, 0))"


def _as_label(expr: str, target: str, source: str) -> str:
    """``expr`` with label ``target`` set to the value of label ``source``."""
    return f'label_replace({expr}, "{target}", "$1", "{source}", "(.*)")'


def _diagonal(cells: str) -> str:
    """The confusion cells whose actual class is the predicted one. PromQL cannot compare
    two labels: each actual class's total is relabelled as the cell (actual=c, predicted=c)
    and the cells are matched against it."""
    actual = _as_label(f"sum by ({_by(metrics.LABEL_ACTUAL)}) ({cells})",
                       metrics.LABEL_PREDICTED, metrics.LABEL_ACTUAL)
    return f"{cells} and on ({_by(metrics.LABEL_ACTUAL, metrics.LABEL_PREDICTED)}) {actual}"


def _per_class(cells: str, axis: str) -> str:
    """``cells`` summed per class along ``axis`` (actual or predicted), labelled ``class``."""
    return f"sum by ({_by(metrics.LABEL_CLASS)}) ({_as_label(cells, metrics.LABEL_CLASS, axis)})"


def _class_rate(hits: str, cells: str, axis: str) -> str:
    """Per class along ``axis``: the diagonal's count over the axis total (recall for actual,
    precision for predicted). A class with rows but no hit (no diagonal cell yet) is 0."""
    total = _per_class(cells, axis)
    return f"({_per_class(hits, axis)} or ({total} * 0)) / ({total} > 0)"


_FEATURE, _BIN, _CLASS = metrics.LABEL_FEATURE, metrics.LABEL_BIN, metrics.LABEL_CLASS
_SEGMENT = (metrics.LABEL_SEGMENT, metrics.LABEL_SEGMENT_VALUE)
_CORRECT = f'{{{metrics.LABEL_OUTCOME}="{metrics.OUTCOME_CORRECT}"}}'
_ACTUAL, _PREDICTED = metrics.LABEL_ACTUAL, metrics.LABEL_PREDICTED
_CONF = metrics.CONFIDENCE

# Intermediate series, in dependency order: name -> (window, ref) -> PromQL.
PARTS: dict[str, Callable[[str, Ref], str]] = {
    "feature_bin_increase": lambda w, r: _increase(metrics.FEATURE_BIN_SERIES, w, _FEATURE, _BIN),
    "feature_bin_share": lambda w, r: _shares(r("feature_bin_increase"), _BIN, _FEATURE),
    # Every replica of a version exports its reference: one value per version.
    "feature_reference_share": lambda w, r: (
        f"max by ({_by(_FEATURE, _BIN)}) ({metrics.FEATURE_REFERENCE})"
    ),
    "class_increase": lambda w, r: _increase(metrics.PREDICTIONS_SERIES, w, _CLASS),
    "class_share": lambda w, r: _shares(r("class_increase"), _CLASS),
    "class_prior": lambda w, r: f"max by ({_by(_CLASS)}) ({metrics.CLASS_PRIOR})",
    "feedback_increase": lambda w, r: _increase(metrics.FEEDBACK_SERIES, w),
    "feedback_correct_increase": lambda w, r: _increase(
        metrics.FEEDBACK_SERIES, w, matcher=_CORRECT
    ),
    "feedback_labelled_increase": lambda w, r: _increase(metrics.FEEDBACK_LABELLED_SERIES, w),
    "feedback_absolute_error_increase": lambda w, r: _increase(
        metrics.FEEDBACK_ABSOLUTE_ERROR_SERIES, w
    ),
    "feedback_squared_error_increase": lambda w, r: _increase(
        metrics.FEEDBACK_SQUARED_ERROR_SERIES, w
    ),
    "confusion_increase": lambda w, r: _increase(
        metrics.CONFUSION_SERIES, w, _ACTUAL, _PREDICTED
    ),
    "confusion_diagonal": lambda w, r: _diagonal(r("confusion_increase")),
    "confidence_bucket_increase": lambda w, r: _increase(f"{_CONF}_bucket", w, "le"),
    "confidence_count_increase": lambda w, r: _increase(f"{_CONF}_count", w),
    "confidence_sum_increase": lambda w, r: _increase(f"{_CONF}_sum", w),
    "expected_correct_increase": lambda w, r: _increase(metrics.EXPECTED_CORRECT_SERIES, w),
    "segment_bin_increase": lambda w, r: _increase(
        metrics.SEGMENT_FEATURE_BIN_SERIES, w, *_SEGMENT, _FEATURE, _BIN),
    "segment_bin_share": lambda w, r: _shares(r("segment_bin_increase"), _BIN, *_SEGMENT,
                                              _FEATURE),
    "segment_feedback_increase": lambda w, r: _increase(
        metrics.SEGMENT_FEEDBACK_SERIES, w, *_SEGMENT),
    "segment_feedback_correct_increase": lambda w, r: _increase(
        metrics.SEGMENT_FEEDBACK_SERIES, w, *_SEGMENT, matcher=_CORRECT),
    "segment_reference_share": lambda w, r: (
        f"max by ({_by(*_SEGMENT, _FEATURE, _BIN)}) ({metrics.SEGMENT_REFERENCE})"
    ),
}

# The parts that hold a range computation; recorded for a rule window.
RECORDED_PARTS: tuple[str, ...] = tuple(p for p in PARTS if p.endswith("_increase"))

SIGNALS: dict[Signal, Callable[[str, Ref], str]] = {
    Signal.FEATURE_ROWS: lambda w, r: f"sum by ({_by(_FEATURE)}) ({r('feature_bin_increase')})",
    Signal.FEATURE_PSI: lambda w, r: _psi(
        r("feature_bin_share"), r("feature_reference_share"), _FEATURE
    ),
    Signal.FEATURE_JENSEN_SHANNON: lambda w, r: _jensen_shannon(
        r("feature_reference_share"), r("feature_bin_share"), _FEATURE
    ),
    Signal.PREDICTIONS: lambda w, r: f"sum by ({KEY}) ({r('class_increase')})",
    Signal.PREDICTION_SHIFT: lambda w, r: _psi(r("class_share"), r("class_prior")),
    Signal.FEEDBACK: lambda w, r: r("feedback_increase"),
    Signal.ACCURACY: lambda w, r: (
        f"{r('feedback_correct_increase')} / ({r('feedback_increase')} > 0)"
    ),
    # Only where error sums exist (a regressor's servers): a classifier has no such series.
    Signal.FEEDBACK_VALUES: lambda w, r: (
        f"{r('feedback_labelled_increase')} and on ({KEY}) {r('feedback_absolute_error_increase')}"
    ),
    Signal.MAE: lambda w, r: (
        f"{r('feedback_absolute_error_increase')} / ({r('feedback_labelled_increase')} > 0)"
    ),
    Signal.RMSE: lambda w, r: (
        f"sqrt({r('feedback_squared_error_increase')} / ({r('feedback_labelled_increase')} > 0))"
    ),
    Signal.BEYOND_TOLERANCE: lambda w, r: (
        f"({r('feedback_increase')} - {r('feedback_correct_increase')})"
        f" / ({r('feedback_increase')} > 0) and on ({KEY}) {r('feedback_absolute_error_increase')}"
    ),
    Signal.CONFIDENCE_MEAN: lambda w, r: (
        f"{r('confidence_sum_increase')} / ({r('confidence_count_increase')} > 0)"
    ),
    Signal.CONFIDENCE_BELOW: lambda w, r: (
        f"{r('confidence_bucket_increase')} / ignoring (le) group_left ()"
        f" ({r('confidence_count_increase')} > 0)"
    ),
    Signal.CONFUSION: lambda w, r: r("confusion_increase"),
    Signal.CLASS_RECALL: lambda w, r: _class_rate(
        r("confusion_diagonal"), r("confusion_increase"), _ACTUAL
    ),
    Signal.CLASS_PRECISION: lambda w, r: _class_rate(
        r("confusion_diagonal"), r("confusion_increase"), _PREDICTED
    ),
    Signal.ESTIMATED_ACCURACY: lambda w, r: (
        f"{r('expected_correct_increase')} / ({r('confidence_count_increase')} > 0)"
    ),
    # Constant for a version: the cross-fitted calibration error of its bundle's check.
    Signal.CALIBRATION_ERROR: lambda w, r: f"max by ({KEY}) ({metrics.CALIBRATION_ERROR})",
    Signal.SEGMENT_ROWS: lambda w, r: (
        f"sum by ({_by(*_SEGMENT, _FEATURE)}) ({r('segment_bin_increase')})"
    ),
    Signal.SEGMENT_PSI: lambda w, r: _psi(
        r("segment_bin_share"), r("segment_reference_share"), *_SEGMENT, _FEATURE
    ),
    Signal.SEGMENT_JENSEN_SHANNON: lambda w, r: _jensen_shannon(
        r("segment_reference_share"), r("segment_bin_share"), *_SEGMENT, _FEATURE
    ),
    Signal.SEGMENT_FEEDBACK: lambda w, r: r("segment_feedback_increase"),
    Signal.SEGMENT_ACCURACY: lambda w, r: (
        f"{r('segment_feedback_correct_increase')} / ({r('segment_feedback_increase')} > 0)"
    ),
    Signal.LAST_SCRAPE: lambda w, r: f"max by ({KEY}) (timestamp({metrics.CLASS_PRIOR}))",
    # The prediction log: writable in every replica (min), rows waiting in all (sum).
    Signal.LOG_UP: lambda w, r: f"min by ({KEY}) ({metrics.PREDICTION_LOG_UP})",
    Signal.LOG_BUFFERED: lambda w, r: f"sum by ({KEY}) ({metrics.PREDICTION_LOG_BUFFERED})",
    # Every replica of a version exports its reference: one value per version.
    Signal.CONFIDENCE_REFERENCE: lambda w, r: (
        f"max by ({_by('le')}) ({metrics.CONFIDENCE_REFERENCE})"
    ),
    Signal.CONFIDENCE_REFERENCE_ROWS: lambda w, r: (
        f"max by ({KEY}) ({metrics.CONFIDENCE_REFERENCE_ROWS})"
    ),
}


def _check(window: str) -> None:
    if not DURATION.match(window):
        raise QueryInputError(f"window: {window!r} is not a duration like 30m or 1h")


def inline_ref(window: str) -> Ref:
    """Parts expanded into the expression (no recording rules needed)."""

    def ref(part: str) -> str:
        return f"({PARTS[part](window, ref)})"

    return ref


def recorded_ref(window: str) -> Ref:
    """The increase() parts read from their recorded series; the cheap parts derived from
    them (shares, the reference) inlined, which keeps the recorded series per bin to one."""

    def ref(part: str) -> str:
        if part in RECORDED_PARTS:
            return record_name(part, window)
        return f"({PARTS[part](window, ref)})"

    return ref


def render(signal: Signal, window: str, *, recorded: bool = False) -> str:
    """The PromQL of ``signal`` over ``window`` for every ModelDeployment track: the
    recorded series when ``recorded``, else the full expression."""
    _check(window)
    if recorded and signal not in INSTANT_SIGNALS:
        return record_name(signal.value, window)
    return SIGNALS[signal](window, inline_ref(window))


def render_rule(name: str, window: str) -> str:
    """The expression recording part or signal ``name`` from the parts recorded before it."""
    _check(window)
    ref = recorded_ref(window)
    if name in PARTS:
        return PARTS[name](window, ref)
    return SIGNALS[Signal(name)](window, ref)


def rules_evaluated(window: str) -> str:
    """When the rules for ``window`` last ran, per track (their series' timestamps)."""
    return f"max by ({KEY}) (timestamp({record_name(Signal.PREDICTIONS.value, window)}))"


def queries_for(windows: set[str], rule_windows: frozenset[str] = RULE_WINDOWS) -> list[Query]:
    """Every query of one tick: one per signal and distinct window (instant signals once)."""
    for window in windows:
        _check(window)
    out = [Query(s.value, "", render(s, "1m")) for s in Signal if s in INSTANT_SIGNALS]
    for window in sorted(windows):
        recorded = window in rule_windows
        out += [Query(s.value, window, render(s, window, recorded=recorded))
                for s in Signal if s not in INSTANT_SIGNALS]
        if recorded:
            out.append(Query(RULES_EVALUATED, window, rules_evaluated(window)))
    return out
