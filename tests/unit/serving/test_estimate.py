"""The server's estimated-accuracy counters (vigia_serving/estimate.py), no server."""

from __future__ import annotations

import numpy as np
import pytest
from prometheus_client import CollectorRegistry
from vigia_serving.monitoring import Monitor

from tests.unit.serving.test_monitoring import LABELS
from vigia import metrics
from vigia.calibration.check import Calibration
from vigia.features import record_columns
from vigia.sample import traffic_records, train_sample_model

# Top probability -> chance of being right: 0.5 -> 0.6, 1.0 -> 1.0 (linear between).
MAP = Calibration(rows=1000, ece_raw=0.06, ece=0.02, ece_max=0.05, bins=(),
                  map_x=(0.5, 1.0), map_y=(0.6, 1.0))


def monitor(calibration: Calibration | None, registry: CollectorRegistry) -> Monitor:
    meta = train_sample_model(rows=600, seed=3).metadata
    return Monitor(namespace="bakery", model="sobaos", version="1", track="canary",
                   schema=meta.schema, profile=meta.profile, classes=meta.classes,
                   registry=registry, calibration=calibration)


def test_each_prediction_adds_its_calibrated_chance_of_being_right() -> None:
    registry = CollectorRegistry()
    m = monitor(MAP, registry)
    expected = metrics.EXPECTED_CORRECT_SERIES
    assert registry.get_sample_value(expected, LABELS) == 0.0  # exported at zero at start
    assert registry.get_sample_value(metrics.CALIBRATION_ERROR, LABELS) == 0.02
    bundle = train_sample_model(rows=600, seed=3)
    records, _ = traffic_records(4, seed=1)
    columns = record_columns(bundle.metadata.schema, records)
    proba = np.array([[0.5, 0.5], [0.0, 1.0], [0.75, 0.25], [0.1, 0.9]])
    m.observe_batch(columns, proba)
    assert registry.get_sample_value(expected, LABELS) == pytest.approx(0.6 + 1.0 + 0.8 + 0.92)


def test_a_model_without_an_estimate_exports_only_its_calibration_error() -> None:
    registry = CollectorRegistry()
    failed = Calibration(rows=1000, ece_raw=0.2, ece=0.12, ece_max=0.05, bins=(),
                         map_x=(0.5, 1.0), map_y=(0.5, 1.0), reason="calibration error 0.12")
    monitor(failed, registry)
    assert registry.get_sample_value(metrics.CALIBRATION_ERROR, LABELS) == 0.12
    assert registry.get_sample_value(metrics.EXPECTED_CORRECT_SERIES, LABELS) is None


def test_a_bundle_without_a_check_exports_neither() -> None:
    registry = CollectorRegistry()
    monitor(None, registry)
    assert registry.get_sample_value(metrics.CALIBRATION_ERROR, LABELS) is None
    assert registry.get_sample_value(metrics.EXPECTED_CORRECT_SERIES, LABELS) is None
