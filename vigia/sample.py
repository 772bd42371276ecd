"""The sample: sobaos (sponge cakes) on a production line, good or defective, and
the weight of each baked batch (the regression sample, at the end of the module).

A generated tabular data set with a known, noisy rule behind the target, used by
tests, benchmarks and the demo. ``drift`` moves the traffic the way a hot summer
and a change of flour supplier would: warmer, wetter dough, more flour from one
supplier, a faster line, and humidity that hurts a little more than it used to.
"""

from __future__ import annotations

import fsspec
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.impute import SimpleImputer
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from vigia.bundle import ModelBundle, make_bundle

TARGET = "quality"
GOOD = "good"
DEFECTIVE = "defective"
CLASSES = (DEFECTIVE, GOOD)

# Feature -> (mean, standard deviation) of the undrifted line.
NUMERIC_FEATURES: dict[str, tuple[float, float]] = {
    "oven_temperature": (182.0, 6.0),  # degrees C
    "baking_minutes": (22.0, 2.0),
    "dough_humidity": (38.0, 3.0),  # percent
    "sugar_ratio": (0.28, 0.03),
    "line_speed": (60.0, 8.0),  # trays per minute
    "ambient_temperature": (22.0, 4.0),  # degrees C
    "batch_weight": (250.0, 20.0),  # kg
    "egg_ratio": (0.22, 0.02),
    "proofing_minutes": (45.0, 6.0),
    "mixer_rpm": (120.0, 10.0),
}
SHIFTS = ("morning", "afternoon", "night")
SUPPLIERS = ("harinera_norte", "molinos_sur", "trigo_del_valle")
CATEGORICAL_FEATURES = ("shift", "flour_supplier")
# Sensor drop-outs: ambient temperature is sometimes missing.
NULLABLE_FEATURE = "ambient_temperature"
_DEFECT_THRESHOLD = 2.6


def production_line(
    n: int, *, seed: int, drift: float = 0.0, missing_rate: float = 0.01,
    concept: float = 0.0,
) -> tuple[pd.DataFrame, pd.Series]:
    """``n`` production records and their quality. ``drift`` in [0, 1] or beyond.
    ``concept`` changes the rule alone (concept drift): the line tolerates ``concept`` less
    on the defect score, so more cakes are defective from the very same inputs."""
    if n < 1:
        raise ValueError("n must be at least 1")
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(_numeric(rng, n, drift))
    X["shift"] = rng.choice(SHIFTS, size=n, p=(0.4, 0.35, 0.25))
    X["flour_supplier"] = rng.choice(SUPPLIERS, size=n, p=_supplier_mix(drift))
    score = _defect_score(X, drift) + rng.normal(0.0, 0.6, n)
    y = pd.Series(np.where(score > _DEFECT_THRESHOLD - concept, DEFECTIVE, GOOD), name=TARGET)
    if missing_rate > 0:
        X.loc[rng.random(n) < missing_rate, NULLABLE_FEATURE] = np.nan
    return X, y


def _numeric(rng: np.random.Generator, n: int, drift: float) -> dict[str, np.ndarray]:
    shift = {
        "ambient_temperature": 6.0 * drift,
        "dough_humidity": 2.5 * drift,
        "line_speed": 5.0 * drift,
    }
    return {
        name: rng.normal(mean + shift.get(name, 0.0), sd, n)
        for name, (mean, sd) in NUMERIC_FEATURES.items()
    }


def _supplier_mix(drift: float) -> tuple[float, float, float]:
    moved = min(0.3, 0.3 * drift)
    return (0.45 - moved / 2, 0.30 + moved, 0.25 - moved / 2)


def _defect_score(X: pd.DataFrame, drift: float) -> np.ndarray:
    z = {name: (X[name].to_numpy() - m) / sd for name, (m, sd) in NUMERIC_FEATURES.items()}
    bake = z["oven_temperature"] + z["baking_minutes"]  # under- or over-baked
    wet = np.maximum(0.0, X["dough_humidity"].to_numpy() - 39.0) / 2.0
    wet *= np.where(X["flour_supplier"].to_numpy() == "molinos_sur", 1.6, 1.0)
    night = X["shift"].to_numpy() == "night"
    return (
        0.45 * bake**2
        + (0.9 + 0.4 * drift) * wet
        + 0.35 * np.abs(z["sugar_ratio"])
        + 0.45 * z["line_speed"] * np.where(night, 1.8, 1.0)
        + 0.3 * z["ambient_temperature"] * z["proofing_minutes"]
        + 0.1 * z["egg_ratio"]
    )


def sample_pipeline(seed: int = 0) -> Pipeline:
    """The sample's unfitted model: impute and one-hot encode, then a random forest."""
    numeric = list(NUMERIC_FEATURES)
    preprocess = ColumnTransformer(
        [
            ("numeric", SimpleImputer(strategy="median"), numeric),
            ("categorical", OneHotEncoder(handle_unknown="ignore"), list(CATEGORICAL_FEATURES)),
        ]
    )
    forest = RandomForestClassifier(
        n_estimators=60, min_samples_leaf=3, random_state=seed, n_jobs=1
    )
    return Pipeline([("preprocess", preprocess), ("classifier", forest)])


def train_sample_model(
    *, rows: int = 5000, seed: int = 0, name: str = "sobaos", version: str = "1"
) -> ModelBundle:
    """Train the sample Pipeline on ``rows`` records (a fifth held out) and bundle it."""
    X, y = production_line(rows, seed=seed)
    X_train, X_hold, y_train, y_hold = train_test_split(
        X, y, test_size=0.2, random_state=seed, stratify=y
    )
    model = sample_pipeline(seed).fit(X_train, y_train)
    return make_bundle(
        model, X_train, y_train, name=name, version=version, X_holdout=X_hold, y_holdout=y_hold
    )


def write_dataset(uri: str, *, rows: int = 5000, seed: int = 0,
                  numeric_only: bool = False) -> dict[str, object]:
    """Write the rows the sample model of ``rows`` and ``seed`` learnt from (its holdout
    included), features and target, as CSV; return where and how many rows."""
    X, y = production_line(rows, seed=seed, missing_rate=0.0 if numeric_only else 0.01)
    if numeric_only:
        X = X[list(NUMERIC_FEATURES)]
    with fsspec.open(uri, "w", compression="infer") as out:
        X.assign(**{TARGET: y}).to_csv(out, index=False)
    return {"uri": uri, "rows": rows, "target": TARGET}


def reference_benchmark_model(
    *, rows: int = 5000, seed: int = 0, name: str = "sobaos-benchmark", version: str = "1"
) -> ModelBundle:
    """The benchmark's reference model: 50 trees on the 10 numeric features."""
    X, y = production_line(rows, seed=seed, missing_rate=0.0)
    X = X[list(NUMERIC_FEATURES)]
    X_train, X_hold, y_train, y_hold = train_test_split(
        X, y, test_size=0.2, random_state=seed, stratify=y
    )
    forest = RandomForestClassifier(n_estimators=50, random_state=seed, n_jobs=1)
    forest.fit(X_train, y_train)
    return make_bundle(
        forest, X_train, y_train, name=name, version=version, X_holdout=X_hold, y_holdout=y_hold
    )


def traffic_records(
    n: int, *, seed: int, drift: float = 0.0, numeric_only: bool = False
) -> tuple[list[dict[str, object]], list[str]]:
    """Request rows as JSON-ready records (NaN as None) and their true labels."""
    X, y = production_line(n, seed=seed, drift=drift)
    if numeric_only:
        X = X[list(NUMERIC_FEATURES)]
    records = X.astype(object).where(X.notna(), None).to_dict(orient="records")
    return [{str(k): v for k, v in r.items()} for r in records], [str(v) for v in y]


# The regression sample: the weight of a batch of sobaos after baking, in kg. Baking drives
# moisture out: hotter and longer bakes lose more; wetter dough keeps more. Under ``drift``
# (the same hot summer as the classification sample) demand grows and the line bakes larger
# batches than it ever did (``WEIGHT_BATCH_GROWTH_KG`` more dough): the rule is unchanged, but
# a forest cannot predict beyond the weights it learnt from, so its errors grow (MAE about
# 2 kg -> 8 kg at drift 1) and so does the share off by more than the tolerance; a model
# retrained on the drifted batches is back near its pre-drift error without losing the old
# ones.
WEIGHT_TARGET = "baked_weight"
WEIGHT_UNIT = "kg"
WEIGHT_TOLERANCE_KG = 5.0
WEIGHT_BATCH_GROWTH_KG = 45.0


def baked_weights(
    n: int, *, seed: int, drift: float = 0.0, missing_rate: float = 0.01
) -> tuple[pd.DataFrame, pd.Series]:
    """``n`` production records and each batch's baked weight in kg."""
    X, _ = production_line(n, seed=seed, drift=drift, missing_rate=0.0)
    X["batch_weight"] += WEIGHT_BATCH_GROWTH_KG * drift
    rng = np.random.default_rng(seed + 7919)
    z = {name: (X[name].to_numpy() - m) / sd for name, (m, sd) in NUMERIC_FEATURES.items()}
    loss = (
        0.12
        + 0.012 * z["oven_temperature"]
        + 0.010 * z["baking_minutes"]
        - 0.008 * z["dough_humidity"]
        + 0.004 * z["oven_temperature"] * z["baking_minutes"]
        + 0.006 * (X["shift"].to_numpy() == "night")
    )
    weight = X["batch_weight"].to_numpy() * (1.0 - loss) + rng.normal(0.0, 1.5, n)
    if missing_rate > 0:
        X.loc[rng.random(n) < missing_rate, NULLABLE_FEATURE] = np.nan
    return X, pd.Series(weight, name=WEIGHT_TARGET)


def weight_pipeline(seed: int = 0) -> Pipeline:
    """The regression sample's unfitted model: the same preprocessing, a forest regressor."""
    pipeline = sample_pipeline(seed)
    forest = RandomForestRegressor(
        n_estimators=60, min_samples_leaf=3, random_state=seed, n_jobs=1
    )
    return Pipeline([("preprocess", pipeline.steps[0][1]), ("regressor", forest)])


def train_weight_model(
    *, rows: int = 5000, seed: int = 0, name: str = "sobaos-weight", version: str = "1"
) -> ModelBundle:
    """Train the regression sample on ``rows`` records (a fifth held out) and bundle it."""
    X, y = baked_weights(rows, seed=seed)
    X_train, X_hold, y_train, y_hold = train_test_split(X, y, test_size=0.2, random_state=seed)
    model = weight_pipeline(seed).fit(X_train, y_train)
    return make_bundle(
        model, X_train, y_train, name=name, version=version, X_holdout=X_hold, y_holdout=y_hold
    )


def weight_traffic_records(
    n: int, *, seed: int, drift: float = 0.0
) -> tuple[list[dict[str, object]], list[float]]:
    """Request rows as JSON-ready records (NaN as None) and their true baked weights."""
    X, y = baked_weights(n, seed=seed, drift=drift)
    records = X.astype(object).where(X.notna(), None).to_dict(orient="records")
    return [{str(k): v for k, v in r.items()} for r in records], [float(v) for v in y]


def write_weight_dataset(uri: str, *, rows: int = 5000, seed: int = 0) -> dict[str, object]:
    """Write the rows the regression sample of ``rows`` and ``seed`` learnt from (its
    holdout included), features and baked weight, as CSV; return where and how many rows."""
    X, y = baked_weights(rows, seed=seed)
    with fsspec.open(uri, "w", compression="infer") as out:
        X.assign(**{WEIGHT_TARGET: y}).to_csv(out, index=False)
    return {"uri": uri, "rows": rows, "target": WEIGHT_TARGET}


# The two samples by name: what `vigia sample ... --kind` chooses.
QUALITY = "quality"  # classification: good or defective
WEIGHT = "weight"  # regression: the baked weight in kg
SAMPLE_KINDS = (QUALITY, WEIGHT)


def sample_records(
    kind: str, n: int, *, seed: int, drift: float = 0.0
) -> tuple[list[dict[str, object]], list[str] | list[float]]:
    """Request rows of the ``kind`` sample and their truths (labels, or weights in kg)."""
    if kind == WEIGHT:
        return weight_traffic_records(n, seed=seed, drift=drift)
    return traffic_records(n, seed=seed, drift=drift)
