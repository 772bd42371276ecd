"""Retraining benchmark: `vigia-retrain` on the sample with drifted, labelled feedback.

    python3 benchmarks/retrain.py [--rows 5000] [--feedback 1500,5000] [--drift 1.0]

For each feedback size: the current model is the sample trained on ``--rows`` undrifted
records; the base dataset is those records; the feedback is that many drifted records
with their true labels, logged in a SQLite prediction log with the model server's own
store code. The job runs as a real process (`python -m vigia_retrain`), sensitive
feature `shift`. Prints rows, seconds, accuracy of the current model and the candidate on
the held-out recent feedback and on the original holdout, and the fairness figures.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools" / "testbed"))
importlib.import_module("vigia_testbed.checkout").use_this_checkout()

from vigia_testbed.retrain import (  # noqa: E402
    Run,
    job_env,
    run_job,
    sample_current,
    store_feedback,
)

from vigia.sample import traffic_records  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--feedback", default="1500,5000")
    parser.add_argument("--drift", type=float, default=1.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vigia-retrain-bench-") as tmp:
        work = Path(tmp)
        current = sample_current(work, rows=args.rows)
        print(f"{'feedback':>8} {'train rows':>10} {'fit s':>6} {'job s':>6} "
              f"{'recent cur':>10} {'recent cand':>11} {'hold cur':>8} {'hold cand':>9} "
              f"{'DPD':>6} {'EOD':>6} {'verdict':>8}")
        for size in (int(n) for n in args.feedback.split(",")):
            run_dir = work / f"feedback-{size}"
            run_dir.mkdir()
            store = f"sqlite:///{run_dir}/predictions.db"
            records, labels = traffic_records(size, seed=7, drift=args.drift)
            store_feedback(store, records, labels)
            base_env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIA_RETRAIN_")}
            started = time.monotonic()
            run = run_job(job_env(current, run_dir, store), base_env=base_env)
            wall = time.monotonic() - started
            print(_row(size, run, wall))


def _row(size: int, run: Run, wall: float) -> str:
    r = run.result
    if "metrics" not in r:
        return f"{size:>8} {r['verdict']}: {r['reasons']}"
    recent, hold = r["metrics"]["recent"], r["metrics"]["holdout"]
    shift = r["fairness"]["shift"]
    return (
        f"{size:>8} {r['data']['trainRows']:>10} {r['timing']['trainSeconds']:>6.1f} "
        f"{wall:>6.1f} {recent['current']['accuracy']:>10.4f} "
        f"{recent['candidate']['accuracy']:>11.4f} {hold['current']['accuracy']:>8.4f} "
        f"{hold['candidate']['accuracy']:>9.4f} {shift['demographicParityDifference']:>6.3f} "
        f"{shift['equalizedOddsDifference']:>6.3f} {r['verdict']:>8}"
    )


if __name__ == "__main__":
    main()
