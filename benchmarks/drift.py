"""Drift detection benchmark: delay after a known change point, false alarms without one.

    python3 benchmarks/drift.py [--rows 100000] [--windows 1000,5000] [--tick 100]

Streams come from the sample production line (vigia.sample). Rows are binned with the
sample bundle's own training profile (the model server's code path), and every ``tick``
rows the monitor computes each feature's score over the last ``window`` rows with
vigia.drift — the statistics the Prometheus recording rules reproduce (checked by the
promtool tests) — and flags the features whose score exceeds the threshold, once at least
``minSamples`` rows are in the window, as the operator does.

Two kinds of stream:
- stationary: ``--rows`` rows of the undrifted line; every flag is a false alarm.
- change point: the same, but from row ``rows // 2`` on one numeric feature is shifted by
  one standard deviation; the delay is rows from the change until a tick flags that
  feature, and flags of other features, or before the change, are false alarms.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from vigia import drift
from vigia.profile import TrainingProfile
from vigia.sample import NUMERIC_FEATURES, production_line, train_sample_model

Statistic = Callable[[Mapping[str, float], Mapping[str, float]], float]
STATISTICS: dict[str, tuple[Statistic, float]] = {
    # name -> (function, threshold): PSI at the CRD's default 0.2; Jensen-Shannon at 0.15
    # (with 10 bins its sampling noise alone reaches ~0.1 on 1,000-row windows).
    "PSI": (drift.psi, 0.2),
    "JensenShannon": (drift.jensen_shannon, 0.15),
}
MIN_SAMPLES = 500
SHIFTED = ("oven_temperature", "line_speed", "sugar_ratio")


@dataclass
class Run:
    statistic: str
    window: int
    shifted: str | None
    delay: int | None
    false_alarms: int
    ticks: int
    max_stationary_score: float


def binned(profile: TrainingProfile, frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """Cumulative per-bin counts for each feature (row i+1 = counts of rows [0, i])."""
    out = {}
    for feature in frame.columns:
        labels = profile.bin_labels(feature)
        idx = profile.bin_indices(feature, frame[feature].to_numpy())
        onehot = np.zeros((len(idx) + 1, len(labels)))
        valid = idx >= 0
        onehot[1:][valid, idx[valid]] = 1.0
        out[feature] = np.cumsum(onehot, axis=0)
    return out


def monitor(
    profile: TrainingProfile,
    frame: pd.DataFrame,
    *,
    statistic: str,
    window: int,
    tick: int,
    change_at: int | None,
    shifted: str | None,
) -> Run:
    score_of, threshold = STATISTICS[statistic]
    counts = binned(profile, frame)
    refs = {f: profile.reference_shares(f) for f in frame.columns}
    delay, false_alarms, ticks, worst = None, 0, 0, 0.0
    for end in range(tick, len(frame) + 1, tick):
        start = max(0, end - window)
        if end - start < MIN_SAMPLES:
            continue
        ticks += 1
        after_change = change_at is not None and end > change_at
        for feature, cumulative in counts.items():
            window_counts = cumulative[end] - cumulative[start]
            labels = profile.bin_labels(feature)
            score = score_of(refs[feature], dict(zip(labels, window_counts.tolist(), strict=True)))
            if not after_change:
                worst = max(worst, score)
            if score <= threshold:
                continue
            if change_at is not None and end > change_at and feature == shifted:
                delay = end - change_at if delay is None else delay
            else:
                false_alarms += 1
        if delay is not None and change_at is not None:
            break  # detected: the rest of the stream is a drifted regime
    return Run(statistic, window, shifted, delay, false_alarms, ticks, worst)


def stream(rows: int, seed: int, shifted: str | None) -> tuple[pd.DataFrame, int | None]:
    frame, _ = production_line(rows, seed=seed, missing_rate=0.0)
    if shifted is None:
        return frame, None
    change_at = rows // 2
    sd = NUMERIC_FEATURES[shifted][1]
    frame.loc[change_at:, shifted] = frame.loc[change_at:, shifted] + sd
    return frame, change_at


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--windows", default="1000,5000")
    parser.add_argument("--tick", type=int, default=100, help="rows between two evaluations")
    args = parser.parse_args()
    profile = train_sample_model(rows=5000, seed=0).metadata.profile
    started = time.perf_counter()
    runs: list[Run] = []
    for window in (int(w) for w in args.windows.split(",")):
        for statistic in STATISTICS:
            frame, _ = stream(args.rows, seed=101, shifted=None)
            runs.append(monitor(profile, frame, statistic=statistic, window=window,
                                tick=args.tick, change_at=None, shifted=None))
            for i, feature in enumerate(SHIFTED):
                frame, change_at = stream(args.rows, seed=200 + i, shifted=feature)
                runs.append(monitor(profile, frame, statistic=statistic, window=window,
                                    tick=args.tick, change_at=change_at, shifted=feature))
    print(f"drift benchmark: {args.rows} rows per stream, a tick every {args.tick} rows, "
          f"minSamples {MIN_SAMPLES}, 12 features ({time.perf_counter() - started:.0f} s)")
    print(f"{'statistic':<14}{'threshold':>9}{'window':>8}  {'stream':<30}"
          f"{'delay (rows)':>13}{'false alarms':>14}{'ticks':>7}{'max score before':>18}")
    for r in runs:
        name = "stationary" if r.shifted is None else f"+1 sd {r.shifted} at {args.rows // 2}"
        delay = "-" if r.shifted is None else ("missed" if r.delay is None else str(r.delay))
        print(f"{r.statistic:<14}{STATISTICS[r.statistic][1]:>9}{r.window:>8}  {name:<30}"
              f"{delay:>13}{r.false_alarms:>14}{r.ticks:>7}{r.max_stationary_score:>18.4f}")


if __name__ == "__main__":
    main()
