"""Rows for a parity check when no holdout data is given: drawn from the training profile.

Numeric values are drawn uniformly inside a training decile picked with its training
share (the outer deciles end at the training minimum and maximum), categories with
their training frequencies, and missing values at their training rate. The rows look
like the training data bin by bin, which is all a parity check needs: the same inputs
through both forms.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from vigia.bundle import ModelBundle
from vigia.profile import CategoricalProfile, NumericProfile


def profile_rows(bundle: ModelBundle, rows: int, *, seed: int = 0) -> pd.DataFrame:
    meta = bundle.metadata
    rng = np.random.default_rng(seed)
    data = {}
    for spec in meta.schema.features:
        profile = meta.profile.feature(spec.name)
        if isinstance(profile, NumericProfile):
            values = _numeric(profile, rows, rng)
        else:
            values = _categorical(profile, rows, rng)
        if spec.nullable:
            values[rng.random(rows) < max(profile.missing_share, 0.01)] = np.nan
        data[spec.name] = values
    frame = pd.DataFrame(data)
    for spec in meta.schema.features:
        if spec.dtype == "category":
            frame[spec.name] = pd.Categorical(
                frame[spec.name], categories=list(spec.categories or ())
            )
    return frame


def _numeric(profile: NumericProfile, rows: int, rng: np.random.Generator) -> np.ndarray:
    low = profile.minimum if profile.minimum is not None else 0.0
    high = profile.maximum if profile.maximum is not None else 1.0
    bounds = np.array([low, *profile.edges, high], dtype=np.float64)
    shares = np.asarray(profile.shares, dtype=np.float64)
    chosen = rng.choice(len(shares), size=rows, p=shares / shares.sum())
    return rng.uniform(bounds[chosen], bounds[chosen + 1])


def _categorical(profile: CategoricalProfile, rows: int, rng: np.random.Generator) -> np.ndarray:
    shares = np.asarray(profile.shares, dtype=np.float64)
    if shares.sum() <= 0:
        shares = np.ones(len(profile.categories))
    return rng.choice(
        np.array(profile.categories, dtype=object), size=rows, p=shares / shares.sum()
    )
