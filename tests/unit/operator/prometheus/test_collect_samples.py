"""Splitting query results by ModelDeployment and track."""

from __future__ import annotations

import math

from vigia_operator.decide.measurements import ModelSignals
from vigia_operator.prometheus.client import Sample
from vigia_operator.prometheus.collect import add_samples
from vigia_operator.prometheus.queries import Signal


def sample(value: float, **labels: str) -> Sample:
    return Sample(labels=labels, value=value, timestamp=0.0)


def test_samples_are_filed_by_namespace_model_track_and_feature() -> None:
    into: dict[tuple[str, str], ModelSignals] = {}
    add_samples(into, Signal.FEATURE_PSI, [
        sample(0.3, namespace="a", model="m", track="stable", feature="x"),
        sample(0.1, namespace="b", model="m", track="stable", feature="x"),
        sample(0.2, namespace="a", model="m", track="canary", feature="x"),
    ])
    assert into[("a", "m")].tracks["stable"].feature_psi == {"x": 0.3}
    assert into[("a", "m")].tracks["canary"].feature_psi == {"x": 0.2}
    assert into[("b", "m")].tracks["stable"].feature_psi == {"x": 0.1}


def test_models_of_another_window_and_nan_are_left_out() -> None:
    into: dict[tuple[str, str], ModelSignals] = {}
    add_samples(into, Signal.ACCURACY, [
        sample(0.9, namespace="a", model="m", track="stable"),
        sample(0.8, namespace="a", model="other", track="stable"),
        sample(math.nan, namespace="a", model="third", track="stable"),
    ], wanted={("a", "m"), ("a", "third")})
    assert set(into) == {("a", "m")}
    assert into[("a", "m")].tracks["stable"].accuracy == 0.9


def test_confidence_buckets_are_read_by_le() -> None:
    into: dict[tuple[str, str], ModelSignals] = {}
    # Queries name their signal by its value (a plain string).
    add_samples(into, Signal.CONFIDENCE_BELOW.value, [
        sample(0.25, namespace="a", model="m", track="stable", le="0.6"),
        sample(1.0, namespace="a", model="m", track="stable", le="+Inf"),
    ])
    track = into[("a", "m")].tracks["stable"]
    assert track.confidence_below == {0.6: 0.25}
    assert track.confidence_share_below(0.6) == 0.25
    assert track.confidence_share_below(0.3) == 0.125  # interpolated from 0 at 0
