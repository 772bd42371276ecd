"""PromQL of every monitoring signal, rendered apart from where it runs.

Each query covers every ModelDeployment at once: it is grouped by (namespace, model, track)
— plus feature, bin, class or le where the signal has them — so the number of queries per
tick depends on the signals, never on the number of models. Counters are turned into counts
over the window with increase() per series (per replica) and summed afterwards, so replica
restarts and scale changes do not distort them.

The same expressions, at a fixed window, are the recording rules shipped in
manifests/prometheus (see rules.py), so the dashboard, the alerts and the operator agree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from vigia import drift, metrics

KEY = ", ".join(metrics.TRACK_KEY_LABELS)
DURATION = re.compile(r"^([0-9]+(ms|s|m|h|d|w|y))+$")


class Signal(StrEnum):
    """One thing measured for every ModelDeployment track; one query each per window."""

    FEATURE_ROWS = "feature_rows"
    FEATURE_PSI = "feature_psi"
    FEATURE_JENSEN_SHANNON = "feature_jensen_shannon"
    PREDICTIONS = "predictions"
    PREDICTION_SHIFT = "prediction_shift"
    FEEDBACK = "feedback"
    ACCURACY = "accuracy"
    CONFIDENCE_MEAN = "confidence_mean"
    CONFIDENCE_BELOW = "confidence_below"
    LAST_SCRAPE = "last_scrape"


# Signals that need no window (instant facts).
INSTANT_SIGNALS = frozenset({Signal.LAST_SCRAPE})


class QueryInputError(ValueError):
    """A window that is not a PromQL duration."""


@dataclass(frozen=True)
class Query:
    """One PromQL instant query and what it measures."""

    signal: Signal
    window: str
    promql: str


def _by(*extra: str) -> str:
    return ", ".join([KEY, *extra])


def _increase(series: str, window: str, *extra: str, matcher: str = "") -> str:
    return f"sum by ({_by(*extra)}) (increase({series}{matcher}[{window}]))"


def _shares(series: str, window: str, part: str, *group: str) -> str:
    """Each ``part``'s share of its group's count over the window (groups with no rows are
    dropped, not divided by zero)."""
    counts = _increase(series, window, *group, part)
    totals = _increase(series, window, *group)
    return f"({counts} / ignoring ({part}) group_left () ({totals} > 0))"


def _reference(gauge: str, part: str, *group: str) -> str:
    # Replicas (and, during a version change, both versions) export the reference; one value.
    return f"max by ({_by(*group, part)}) ({gauge})"


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


def _ratio(numerator: str, denominator: str) -> str:
    return f"({numerator} / ({denominator} > 0))"


def render(signal: Signal, window: str) -> str:
    """The PromQL of ``signal`` over ``window`` for every ModelDeployment track."""
    if not DURATION.match(window):
        raise QueryInputError(f"window: {window!r} is not a duration like 30m or 1h")
    feature, bin_, class_ = metrics.LABEL_FEATURE, metrics.LABEL_BIN, metrics.LABEL_CLASS
    bins = metrics.FEATURE_BIN_SERIES
    confidence = metrics.CONFIDENCE
    correct = f'{{{metrics.LABEL_OUTCOME}="{metrics.OUTCOME_CORRECT}"}}'
    match signal:
        case Signal.FEATURE_ROWS:
            return _increase(bins, window, feature)
        case Signal.FEATURE_PSI:
            return _psi(
                _shares(bins, window, bin_, feature),
                _reference(metrics.FEATURE_REFERENCE, bin_, feature),
                feature,
            )
        case Signal.FEATURE_JENSEN_SHANNON:
            return _jensen_shannon(
                _reference(metrics.FEATURE_REFERENCE, bin_, feature),
                _shares(bins, window, bin_, feature),
                feature,
            )
        case Signal.PREDICTIONS:
            return _increase(metrics.PREDICTIONS_SERIES, window)
        case Signal.PREDICTION_SHIFT:
            return _psi(
                _shares(metrics.PREDICTIONS_SERIES, window, class_),
                _reference(metrics.CLASS_PRIOR, class_),
            )
        case Signal.FEEDBACK:
            return _increase(metrics.FEEDBACK_SERIES, window)
        case Signal.ACCURACY:
            return _ratio(
                _increase(metrics.FEEDBACK_SERIES, window, matcher=correct),
                _increase(metrics.FEEDBACK_SERIES, window),
            )
        case Signal.CONFIDENCE_MEAN:
            return _ratio(
                _increase(f"{confidence}_sum", window), _increase(f"{confidence}_count", window)
            )
        case Signal.CONFIDENCE_BELOW:
            below = _increase(f"{confidence}_bucket", window, "le")
            total = _increase(f"{confidence}_count", window)
            return f"({below} / ignoring (le) group_left () ({total} > 0))"
        case Signal.LAST_SCRAPE:
            return f"max by ({KEY}) (timestamp({metrics.CLASS_PRIOR}))"
    raise AssertionError(signal)


def queries_for(windows: set[str]) -> list[Query]:
    """Every query of one tick: one per signal and distinct window (instant signals once)."""
    out = [Query(s, "", render(s, "1m")) for s in Signal if s in INSTANT_SIGNALS]
    for window in sorted(windows):
        out += [Query(s, window, render(s, window)) for s in Signal if s not in INSTANT_SIGNALS]
    return out
