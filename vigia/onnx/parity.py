"""Parity between a bundle's scikit-learn estimator and its ONNX form on the same rows.

The threshold on the largest probability difference is 1e-3. ONNX runs trees and
linear models in float32 where scikit-learn uses float64; on the sample forest that
costs about 1e-6. A real conversion fault (a category encoded differently, a missing
value routed the other way, a feature out of order) moves a probability by at least
one tree's vote (1/60 for the sample's forest), far above 1e-3, while 1e-3 stays
below anything a person sees (probabilities are shown with two decimals) and below
the width of the confidence histogram's buckets (0.05). Labels must agree on every
row whose two best classes are further apart than the threshold; a near tie may go
either way in either form and is not a disagreement.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from vigia.bundle import ModelBundle
from vigia.onnx.manifest import Manifest, ParitySummary
from vigia.onnx.runner import OnnxModel, columns_feed
from vigia.profile import NumericProfile, TrainingProfile

DEFAULT_THRESHOLD = 1e-3


@dataclass(frozen=True)
class ParityReport:
    rows: int
    label_agreement: float
    disagreements: int
    max_probability_difference: float
    threshold: float

    @property
    def passed(self) -> bool:
        return self.disagreements == 0 and self.max_probability_difference <= self.threshold

    def summary(self) -> ParitySummary:
        return ParitySummary(
            rows=self.rows,
            label_agreement=self.label_agreement,
            max_probability_difference=self.max_probability_difference,
            threshold=self.threshold,
            passed=self.passed,
        )


def frame_columns(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    return {
        str(name): (
            frame[name].to_numpy(dtype=np.float64, na_value=np.nan)
            if pd.api.types.is_numeric_dtype(frame[name])
            else frame[name].astype(object).to_numpy()
        )
        for name in frame.columns
    }


def check_parity(
    bundle: ModelBundle,
    model: OnnxModel,
    frame: pd.DataFrame,
    *,
    threshold: float = DEFAULT_THRESHOLD,
) -> ParityReport:
    """Both forms on ``frame`` (columns in schema order, training dtypes)."""
    expected = bundle.predict_proba(frame)
    actual = model.predict_proba_feed(columns_feed(model.manifest, frame_columns(frame)))
    if actual.shape != expected.shape:
        raise ValueError(f"ONNX probabilities have shape {actual.shape}, expected {expected.shape}")
    ranked = np.sort(expected, axis=1)
    clear = (ranked[:, -1] - ranked[:, -2]) > threshold
    differ = expected.argmax(axis=1) != actual.argmax(axis=1)
    return ParityReport(
        rows=len(frame),
        label_agreement=float(1.0 - differ.mean()),
        disagreements=int((differ & clear).sum()),
        max_probability_difference=float(np.abs(actual - expected).max()),
        threshold=threshold,
    )


def manifest_for(bundle: ModelBundle, mode: str, opsets: dict[str, int]) -> Manifest:
    meta = bundle.metadata
    return Manifest(
        name=meta.name,
        version=meta.version,
        classes=list(meta.classes),
        features=[f.to_dict() for f in meta.schema.features],
        input_mode="columns" if mode == "columns" else "matrix",
        opset=opsets,
        bins={name: training_bins(meta.profile, name) for name in meta.schema.names},
    )


def training_bins(profile: TrainingProfile, feature: str) -> dict[str, Any]:
    """The bins the server counts ``feature`` on, as the manifest carries them."""
    found = profile.feature(feature)
    if isinstance(found, NumericProfile):
        return {"edges": list(found.edges), "minimum": found.minimum, "maximum": found.maximum}
    return {"categories": list(found.categories)}
