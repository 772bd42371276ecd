"""PromQL rendering: every query covers all models, split by namespace/model/track."""

from __future__ import annotations

import pytest
from vigia_operator.prometheus.queries import (
    INSTANT_SIGNALS,
    RULE_WINDOWS,
    RULES_EVALUATED,
    QueryInputError,
    Signal,
    queries_for,
    record_name,
    render,
)

from vigia import drift


@pytest.mark.parametrize("signal", list(Signal))
def test_every_query_groups_by_namespace_model_and_track(signal: Signal) -> None:
    promql = render(signal, "1h")
    assert promql.count("by (namespace, model, track") >= 1
    # Never a per-model selector: one query answers for every ModelDeployment.
    assert 'model="' not in promql and 'namespace="' not in promql


def test_windowed_signals_use_the_window() -> None:
    for signal in Signal:
        if signal not in INSTANT_SIGNALS:
            assert "[15m]" in render(signal, "15m")


def test_psi_uses_the_smoothing_of_vigia_drift() -> None:
    assert "clamp_min(" in render(Signal.FEATURE_PSI, "1h")
    assert repr(drift.EPSILON) in render(Signal.FEATURE_PSI, "1h")
    assert repr(drift.EPSILON) in render(Signal.PREDICTION_SHIFT, "1h")


def test_a_window_that_is_not_a_duration_is_refused() -> None:
    with pytest.raises(QueryInputError, match="window"):
        render(Signal.ACCURACY, "1h; drop")


def test_queries_per_tick_depend_on_windows_not_models() -> None:
    windowed = len(Signal) - len(INSTANT_SIGNALS)
    assert len(queries_for({"30m"})) == windowed + len(INSTANT_SIGNALS)
    # A window with recording rules adds one query: when the rules last ran.
    assert len(queries_for({"1h", "30m"})) == 2 * windowed + len(INSTANT_SIGNALS) + 1


def test_a_recorded_window_reads_the_recorded_series() -> None:
    (window,) = RULE_WINDOWS
    queries = {(q.signal, q.window): q.promql for q in queries_for({window, "30m"})}
    assert queries[(Signal.FEATURE_PSI, window)] == record_name("feature_psi", window)
    assert "increase(" in queries[(Signal.FEATURE_PSI, "30m")]
    assert record_name("predictions", window) in queries[(RULES_EVALUATED, window)]
