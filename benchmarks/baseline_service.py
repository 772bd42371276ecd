"""The benchmark's baseline: a plain BentoML service wrapping the same model.

BentoML defaults throughout (one worker, one thread, no adaptive batching, tracing and
access log as configured by default); the request body is the same as Vigía's arrays
form, ``{"rows": [[...], ...]}``. Run: ``bentoml serve benchmarks.baseline_service:Baseline``
with VIGIA_MODEL_URI (and VIGIA_HOME) set.
"""

from __future__ import annotations

import os

import bentoml
import pandas as pd

from vigia.bundle import load_bundle


@bentoml.service
class Baseline:
    def __init__(self) -> None:
        home = os.environ.get("VIGIA_HOME", "/tmp/vigia-baseline")
        self.bundle = load_bundle(os.environ["VIGIA_MODEL_URI"], home=home)
        self.columns = list(self.bundle.metadata.schema.names)
        self.classes = list(self.bundle.metadata.classes)

    @bentoml.api
    def predict(self, rows: list[list[float]]) -> dict[str, list[object]]:
        frame = pd.DataFrame(rows, columns=self.columns)
        proba = self.bundle.estimator.predict_proba(frame)
        winners = [self.classes[i] for i in proba.argmax(axis=1)]
        return {"classes": winners, "probabilities": proba.tolist()}
