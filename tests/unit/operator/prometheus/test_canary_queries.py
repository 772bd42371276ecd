"""Canary queries: one per signal for every model, split by namespace/model/track/version."""

from __future__ import annotations

import pytest
from vigia_operator.prometheus.canary_queries import (
    CanarySignal,
    CanarySignals,
    queries_for,
    render,
)
from vigia_operator.prometheus.client import Sample


def S(labels: dict[str, str], value: float) -> Sample:
    return Sample(labels, value, 0.0)


def _labels(ns: str, model: str, track: str, version: str, **extra: str) -> dict[str, str]:
    return {"namespace": ns, "model": model, "track": track, "version": version, **extra}


@pytest.mark.parametrize("signal", list(CanarySignal))
def test_every_query_is_split_by_namespace_model_track_and_version(signal) -> None:
    promql = render(signal, "1m")
    assert "by (namespace, model, track, version" in promql
    assert 'namespace!=""' in promql and "[1m]" in promql


def test_one_query_per_signal_and_window_whatever_the_models() -> None:
    assert len(queries_for(["1m", "1m", "30s"])) == 2 * len(CanarySignal)


def test_results_are_filed_per_model_track_and_version() -> None:
    signals = CanarySignals()
    signals.add(CanarySignal.REQUESTS, [
        S(_labels("a", "iris", "canary", "v2"), 120), S(_labels("a", "iris", "stable", "v1"), 900),
        S(_labels("b", "iris", "canary", "v2"), 7), S(_labels("a", "iris", "canary", "v1"), 55),
        S({"model": "iris"}, 1),  # no namespace: not ours
    ])
    signals.add(CanarySignal.ERRORS, [S(_labels("a", "iris", "canary", "v2"), 6)])
    signals.add(CanarySignal.FEEDBACK, [
        S(_labels("a", "iris", "canary", "v2", outcome="correct"), 40),
        S(_labels("a", "iris", "canary", "v2", outcome="incorrect"), 10),
    ])
    signals.add(CanarySignal.PREDICTIONS, [
        S(_labels("a", "iris", "canary", "v2", **{"class": "x"}), 80),
        S(_labels("a", "iris", "canary", "v2", **{"class": "y"}), 40),
    ])
    signals.add(CanarySignal.LATENCY_P95, [S(_labels("a", "iris", "canary", "v2"), float("nan"))])
    m = signals.measurements(("a", "iris"), canary_version="v2", stable_version="v1")
    assert (m.canary.requests, m.canary.errors, m.stable.requests) == (120, 6, 900)
    assert (m.canary.feedback_total, m.canary.accuracy) == (50, 0.8)
    assert m.canary.predictions == {"x": 80, "y": 40}
    assert m.canary.latency_p95_s is None  # NaN is no data
    other = signals.measurements(("b", "iris"), canary_version="v2", stable_version="v1")
    assert other.canary.requests == 7 and other.stable.requests == 0


def test_a_replaced_canary_version_is_not_measured() -> None:
    signals = CanarySignals()
    signals.add(CanarySignal.ERRORS, [S(_labels("a", "iris", "canary", "v2"), 99)])
    m = signals.measurements(("a", "iris"), canary_version="v3", stable_version="v1")
    assert m.canary.errors == 0 and m.canary.requests == 0
