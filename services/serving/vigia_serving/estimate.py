"""The server's part of estimated accuracy without labels (vigia.calibration).

Per batch, each prediction's chance of being right (its top probability through the
bundle's calibration map) is added to one counter; Prometheus divides it by the predictions
over a window. A bundle whose calibration check failed exports only its calibration error,
so the operator can say why there is no estimate.
"""

from __future__ import annotations

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Gauge

from vigia import metrics
from vigia.calibration.check import Calibration


class EstimateCounters:
    """The expected-correct counter (estimable bundles only) and the calibration gauge."""

    def __init__(self, calibration: Calibration, base: tuple[str, ...],
                 registry: CollectorRegistry) -> None:
        labels = list(metrics.SERVER_LABELS)
        self._calibration = calibration
        # Constant for a version: one value however many worker processes export it.
        Gauge(
            metrics.CALIBRATION_ERROR,
            "Expected calibration error of the bundle's calibrated top probability on its "
            "holdout (cross-fitted); above the bundle's maximum, no estimate.",
            labels, registry=registry, multiprocess_mode="max",
        ).labels(*base).set(calibration.ece)
        self._expected = None
        if calibration.estimable:
            self._expected = Counter(
                metrics.EXPECTED_CORRECT,
                "Sum over predictions of the chance each is right (calibrated top "
                "probability): divided by the predictions, the expected accuracy.",
                labels, registry=registry,
            ).labels(*base)
            self._expected.inc(0)

    def observe(self, proba: np.ndarray) -> None:
        if self._expected is not None and len(proba):
            top = np.asarray(proba, dtype=float).max(axis=1)
            self._expected.inc(float(self._calibration.expected_correct(top).sum()))
