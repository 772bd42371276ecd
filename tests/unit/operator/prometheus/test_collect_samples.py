"""Splitting query results by ModelDeployment and track."""

from __future__ import annotations

import math

from vigia_operator.decide.measurements import ModelSignals
from vigia_operator.prometheus.client import Sample
from vigia_operator.prometheus.collect import add_samples
from vigia_operator.prometheus.queries import Signal


def sample(value: float, **labels: str) -> Sample:
    return Sample(labels=labels, value=value, timestamp=0.0)


def test_samples_are_filed_by_namespace_model_track_version_and_feature() -> None:
    into: dict[tuple[str, str], ModelSignals] = {}
    add_samples(into, Signal.FEATURE_PSI, [
        sample(0.3, namespace="a", model="m", track="stable", version="1", feature="x"),
        sample(0.1, namespace="b", model="m", track="stable", version="1", feature="x"),
        sample(0.2, namespace="a", model="m", track="canary", version="2", feature="x"),
    ])
    assert into[("a", "m")].tracks[("stable", "1")].feature_psi == {"x": 0.3}
    assert into[("a", "m")].tracks[("canary", "2")].feature_psi == {"x": 0.2}
    assert into[("b", "m")].tracks[("stable", "1")].feature_psi == {"x": 0.1}


def test_models_of_another_window_and_nan_are_left_out() -> None:
    into: dict[tuple[str, str], ModelSignals] = {}
    add_samples(into, Signal.ACCURACY, [
        sample(0.9, namespace="a", model="m", track="stable", version="1"),
        sample(0.8, namespace="a", model="other", track="stable", version="1"),
        sample(math.nan, namespace="a", model="third", track="stable", version="1"),
    ], wanted={("a", "m"), ("a", "third")})
    assert set(into) == {("a", "m")}
    assert into[("a", "m")].tracks[("stable", "1")].accuracy == 0.9


def test_confidence_buckets_are_read_by_le() -> None:
    into: dict[tuple[str, str], ModelSignals] = {}
    # Queries name their signal by its value (a plain string).
    add_samples(into, Signal.CONFIDENCE_BELOW.value, [
        sample(0.25, namespace="a", model="m", track="stable", version="1", le="0.6"),
        sample(1.0, namespace="a", model="m", track="stable", version="1", le="+Inf"),
    ])
    track = into[("a", "m")].tracks[("stable", "1")]
    assert track.confidence_below == {0.6: 0.25}
    assert track.confidence_share_below(0.6) == 0.25
    assert track.confidence_share_below(0.3) == 0.125  # interpolated from 0 at 0


def test_each_version_of_a_track_is_filed_apart_and_series_without_one_are_left_out() -> None:
    into: dict[tuple[str, str], ModelSignals] = {}
    add_samples(into, Signal.ACCURACY, [
        sample(0.84, namespace="a", model="m", track="stable", version="1"),
        sample(0.97, namespace="a", model="m", track="stable", version="2"),
        sample(0.5, namespace="a", model="m", track="stable"),
    ])
    versions = into[("a", "m")].versions("stable")
    assert {v: t.accuracy for v, t in versions.items()} == {"1": 0.84, "2": 0.97}


def test_confusion_cells_and_per_class_rates_are_filed_by_their_labels() -> None:
    into: dict[tuple[str, str], ModelSignals] = {}
    key = {"namespace": "a", "model": "m", "track": "stable", "version": "1"}
    add_samples(into, Signal.CONFUSION, [
        sample(30.0, **key, actual="defective", predicted="good"),
        sample(400.0, **key, actual="good", predicted="good"),
    ])
    add_samples(into, Signal.CLASS_RECALL, [sample(0.25, **key, **{"class": "defective"})])
    add_samples(into, Signal.CLASS_PRECISION, [sample(0.9, **key, **{"class": "good"})])
    track = into[("a", "m")].tracks[("stable", "1")]
    assert track.confusion == {("defective", "good"): 30.0, ("good", "good"): 400.0}
    assert track.class_recall == {"defective": 0.25}
    assert track.class_precision == {"good": 0.9}
