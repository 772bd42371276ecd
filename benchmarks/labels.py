"""Labels late or never: how far the accuracy estimated without labels is from the realized
accuracy, per drift scenario of the sample production line (issue 26).

    python3 benchmarks/labels.py [--windows 40] [--rows 1000] [--seed 7]

The sample model (vigia.sample.train_sample_model: 5,000 rows, a fifth held out, its
calibration checked and mapped on that holdout at bundle time) predicts ``--windows``
windows of ``--rows`` rows per scenario; in each window the estimate (mean calibrated top
probability, what the servers count and Prometheus divides) is compared with the accuracy
the true labels give. Printed per scenario: mean absolute error in points over the windows,
the largest error, the mean realized and estimated accuracy, and the error of the raw mean
confidence (no calibration map) for comparison. The concept-drift scenario changes the rule
alone (same inputs, more defective): the estimate cannot see it, by construction. Then the
detection delay of a segment-only drift (one supplier's oven one sd hotter) for the whole
population's PSI and for the segment's own. Fixed seed; prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools" / "testbed"))
importlib.import_module("vigia_testbed.checkout").use_this_checkout()

from vigia import drift, sample  # noqa: E402
from vigia.bundle import ModelBundle  # noqa: E402
from vigia.calibration.check import correct, estimated_accuracy, top_probability  # noqa: E402
from vigia.profile import TrainingProfile  # noqa: E402
from vigia.segments import segment_psi  # noqa: E402

# Scenario -> (window index, windows) -> production_line keyword arguments.
Scenario = Callable[[int, int], dict[str, float]]
SCENARIOS: dict[str, Scenario] = {
    "none (drift 0)": lambda i, n: {"drift": 0.0},
    "drift 0.5": lambda i, n: {"drift": 0.5},
    "drift 1.0 (summer, new supplier)": lambda i, n: {"drift": 1.0},
    "drift 1.5": lambda i, n: {"drift": 1.5},
    "gradual 0 -> 1.5": lambda i, n: {"drift": 1.5 * i / max(1, n - 1)},
    "concept only (rule changes, inputs not)": lambda i, n: {"concept": 0.8},
}


def window_errors(bundle: ModelBundle, scenario: Scenario, windows: int, rows: int,
                  seed: int) -> dict[str, float]:
    check = bundle.metadata.calibration
    assert check is not None and check.estimable, "the sample model must have an estimate"
    errors, raw_errors, realized_all, estimated_all = [], [], [], []
    for i in range(windows):
        X, y = sample.production_line(rows, seed=seed * 10_000 + i, **scenario(i, windows))
        proba = bundle.predict_proba(X)
        realized = float(correct(proba, bundle.metadata.classes, y).mean())
        estimate = estimated_accuracy(check, proba)
        assert estimate is not None
        errors.append(estimate - realized)
        raw_errors.append(float(top_probability(proba).mean()) - realized)
        realized_all.append(realized)
        estimated_all.append(estimate)
    return {
        "mae": 100 * float(np.mean(np.abs(errors))),
        "max": 100 * float(np.max(np.abs(errors))),
        "bias": 100 * float(np.mean(errors)),
        "realized": float(np.mean(realized_all)),
        "estimated": float(np.mean(estimated_all)),
        "raw_mae": 100 * float(np.mean(np.abs(raw_errors))),
    }


def _bins(profile: TrainingProfile, feature: str, values: np.ndarray) -> dict[str, float]:
    index = profile.bin_indices(feature, values)
    labels = profile.bin_labels(feature)
    counts = np.bincount(index[index >= 0], minlength=len(labels))
    return {b: float(c) for b, c in zip(labels, counts.tolist(), strict=True)}


def segment_delay(bundle: ModelBundle, *, rows: int, change: int, window: int, tick: int,
                  min_rows: int, seed: int, threshold: float = 0.2) -> tuple[int | None,
                                                                             int | None]:
    """Rows after ``change`` until the trailing ``window`` flags oven_temperature: the
    population's PSI, and trigo_del_valle's own (with at least ``min_rows`` of its rows);
    from ``change`` on, that supplier's oven runs one standard deviation hotter."""
    profile = bundle.metadata.profile
    X, _ = sample.production_line(rows, seed=seed)
    oven = X["oven_temperature"].to_numpy(dtype=float).copy()
    hot = (X["flour_supplier"].to_numpy() == "trigo_del_valle") & (np.arange(rows) >= change)
    oven[hot] += sample.NUMERIC_FEATURES["oven_temperature"][1]
    supplier = X["flour_supplier"].to_numpy()
    reference = profile.segments["flour_supplier"]
    found: dict[str, int | None] = {"population": None, "segment": None}
    for end in range(change + tick, rows + 1, tick):
        start = max(0, end - window)
        part, who = oven[start:end], supplier[start:end]
        if found["population"] is None and drift.psi(
                profile.reference_shares("oven_temperature"),
                _bins(profile, "oven_temperature", part)) > threshold:
            found["population"] = end - change
        inside = who == "trigo_del_valle"
        if found["segment"] is None and inside.sum() >= min_rows:
            scores = segment_psi(reference, {"trigo_del_valle": {
                "oven_temperature": _bins(profile, "oven_temperature", part[inside])}})
            if scores[("trigo_del_valle", "oven_temperature")] > threshold:
                found["segment"] = end - change
    return found["population"], found["segment"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--windows", type=int, default=40)
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    bundle = sample.train_sample_model()
    check = bundle.metadata.calibration
    assert check is not None
    print(f"sample model: holdout {check.rows} rows, calibration error raw "
          f"{check.ece_raw:.3f}, after the map (cross-fitted) {check.ece:.3f} "
          f"(maximum {check.ece_max:g}): {'estimable' if check.estimable else check.reason}")
    print(f"{args.windows} windows of {args.rows} rows per scenario, seed {args.seed}\n")
    print("| scenario | MAE (points) | max error | bias | realized | estimated "
          "| raw confidence MAE |")
    print("|---|---|---|---|---|---|---|")
    for name, scenario in SCENARIOS.items():
        r = window_errors(bundle, scenario, args.windows, args.rows, args.seed)
        print(f"| {name} | {r['mae']:.2f} | {r['max']:.2f} | {r['bias']:+.2f} "
              f"| {r['realized']:.3f} | {r['estimated']:.3f} | {r['raw_mae']:.2f} |")
    print("\nsegment-only drift (trigo_del_valle's oven +1 sd from row 20,000 of 60,000; "
          "PSI 0.2; a tick every 100 rows; the segment judged with >= 500 of its rows):")
    print("| window (rows) | population: rows to detect | flour_supplier=trigo_del_valle |")
    print("|---|---|---|")
    for window in (2000, 5000):
        population, segment = segment_delay(bundle, rows=60_000, change=20_000,
                                            window=window, tick=100, min_rows=500,
                                            seed=args.seed)
        print(f"| {window:,} | {'never' if population is None else f'{population:,}'} "
              f"| {'never' if segment is None else f'{segment:,}'} |")


if __name__ == "__main__":
    main()
