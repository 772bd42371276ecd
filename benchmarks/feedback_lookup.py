"""Feedback calls of the largest allowed size (1,000 ids) on the prediction log.

Logs --rows predictions (two namespaces, a model of the same name in each) into a SQLite
file through the server's own PredictionStore, then times ``record_feedback`` for calls of
1,000 new ids: the chunked lookup (500 ids per ``IN``) as shipped, and, for comparison,
one ``IN`` of 1,000 (which a SQLite built with the old 999-variable limit refuses).

    python3 benchmarks/feedback_lookup.py [--rows 100000] [--calls 20]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from vigia_serving import store as store_module
from vigia_serving.store import FeedbackItem, PredictionRecord, PredictionStore

CALL = 1000


def _fill(store: PredictionStore, rows: int) -> list[str]:
    now = datetime.now(UTC)
    ids = []
    for start in range(0, rows, 10_000):
        batch = [
            PredictionRecord(f"{ns}-{i}", now, "sobaos", "1", "stable", None, "good",
                             {"good": 1.0}, ns)
            for i in range(start, min(rows, start + 10_000)) for ns in ("staging", "prod")
        ]
        store.log(batch)
        store.flush()
        ids += [r.id for r in batch if r.namespace == "prod"]
    return ids


def _time_calls(store: PredictionStore, ids: list[str], calls: int) -> dict[int, list[float]]:
    """Calls alternating between the two lookups, so that both see the same file state."""
    took: dict[int, list[float]] = {500: [], CALL: []}
    for c in range(2 * calls):
        size = 500 if c % 2 == 0 else CALL
        store_module.LOOKUP_CHUNK = size
        chunk = ids[c * CALL:(c + 1) * CALL]
        started = time.perf_counter()
        store.record_feedback([FeedbackItem(pid, "good") for pid in chunk])
        took[size].append((time.perf_counter() - started) * 1000)
    store_module.LOOKUP_CHUNK = 500
    return took


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = PredictionStore(f"sqlite:///{Path(tmp)}/log.db", namespace="prod",
                                model="sobaos")
        store.create_tables()
        ids = _fill(store, args.rows)
        took = _time_calls(store, ids, args.calls)
        store.engine.dispose()
    for size, name in ((500, "500 ids per IN (shipped)"), (CALL, "one IN of 1,000")):
        print(f"{name:26s} median {statistics.median(took[size]):6.1f} ms, "
              f"max {max(took[size]):6.1f} ms per call of {CALL} ids ({args.calls} calls, "
              f"{2 * args.rows} rows in the log)")

if __name__ == "__main__":
    main()
