"""The labelling queue (``GET /feedback/pending``) on a large prediction log.

Logs --rows predictions of a model (and as many of a model of the same name in another
namespace) through the server's own PredictionStore, gives a tenth of them feedback, then
times ``pending(limit)`` in both orders: ``uncertain`` (through the (namespace, model,
confidence) index) and ``random`` (the ids after a random token, through the primary key).
On PostgreSQL the tables are analysed first, as autovacuum does after a bulk load.

    python3 benchmarks/labelling_queue.py [--rows 100000] [--limit 50] [--calls 10]
                                          [--url postgresql+psycopg://...]  (default SQLite)
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from vigia_serving.runtime import new_prediction_id
from vigia_serving.store import FeedbackItem, PredictionRecord, PredictionStore


def _fill(store: PredictionStore, rows: int) -> list[str]:
    now = datetime.now(UTC)
    rng = random.Random(1)
    ids = []
    for start in range(0, rows, 10_000):
        batch = []
        for i in range(start, min(rows, start + 10_000)):
            for ns in ("staging", "prod"):
                sure = rng.uniform(0.5, 1.0)
                batch.append(PredictionRecord(
                    new_prediction_id(), now, "sobaos", "1", "stable", {"x": i}, "good",
                    {"good": sure, "defective": 1 - sure}, ns))
        store.log(batch)
        store.flush()
        ids += [r.id for r in batch if r.namespace == "prod"]
    return ids


def _label(store: PredictionStore, ids: list[str]) -> None:
    chosen = ids[::10]
    for start in range(0, len(chosen), 1000):
        store.record_feedback([FeedbackItem(pid, correct=True)
                               for pid in chosen[start:start + 1000]])


def _time(store: PredictionStore, limit: int, order: str, calls: int) -> list[float]:
    took = []
    for _ in range(calls):
        started = time.perf_counter()
        got = store.pending(limit, order)  # type: ignore[arg-type]
        took.append((time.perf_counter() - started) * 1000)
        assert len(got) == limit
    return took


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--limit", type=int, default=50)
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--url", default="")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.url or f"sqlite:///{Path(tmp)}/log.db"
        store = PredictionStore(url, namespace="prod", model="sobaos")
        store.create_tables()
        ids = _fill(store, args.rows)
        _label(store, ids)
        if args.url:  # what autovacuum does after a bulk load: the planner's statistics
            with store.engine.begin() as conn:
                conn.exec_driver_sql("ANALYZE")
        results = {order: _time(store, args.limit, order, args.calls)
                   for order in ("uncertain", "random")}
        store.engine.dispose()
    where = "PostgreSQL" if args.url else "SQLite"
    for order, took in results.items():
        print(f"{where} order={order:9s} median {statistics.median(took):7.1f} ms, "
              f"max {max(took):7.1f} ms for {args.limit} of {args.rows} predictions "
              f"(a tenth labelled; {2 * args.rows} rows in the log, {args.calls} calls)")


if __name__ == "__main__":
    main()
