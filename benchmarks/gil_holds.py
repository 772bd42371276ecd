"""How long each stage of the largest allowed /predict holds the interpreter lock.

Why the worker's own /healthz waits under load (docs/serving.md, "Probes"): each stage runs
in a thread, as in the server, while the main thread sleeps 1 ms at a time; how late it
wakes is its wait for the lock. A single C call (orjson parsing the body, numpy and pandas
conversions, a collection of the cyclic garbage collector) holds it throughout, whatever
the switch interval (the server's, vigia_serving.service.GIL_SWITCH_INTERVAL_S).

    python3 benchmarks/gil_holds.py [--memory-mib 1024] [--rounds 2]
"""

from __future__ import annotations

import argparse
import gc
import os
import secrets
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import orjson
from vigia_serving.bounds import derive_bounds, memory_limit
from vigia_serving.payloads import parse_rows
from vigia_serving.runtime import validate
from vigia_testbed.largest import largest_body

from vigia.bundle import ModelBundle
from vigia.features import columns_to_frame
from vigia.sample import train_sample_model
from vigia.settings import ServingSettings

SWITCH_INTERVAL_S = 0.0005  # the server's (vigia_serving.service imports its settings)
TICK_S = 0.001
START_S = 0.005  # the stage starts after the main thread sleeps


def held(stage: Callable[[], Any]) -> tuple[Any, float, float]:
    """The stage's result, its duration and the main thread's longest wait (seconds)."""
    done = threading.Event()
    out: dict[str, Any] = {}

    def run() -> None:
        time.sleep(START_S)
        started = time.perf_counter()
        out["value"] = stage()
        out["took"] = time.perf_counter() - started
        done.set()

    thread = threading.Thread(target=run)
    thread.start()
    worst = 0.0
    while not done.is_set():
        started = time.perf_counter()
        time.sleep(TICK_S)
        worst = max(worst, time.perf_counter() - started - TICK_S)
    thread.join()
    return out["value"], out["took"], worst


def show(name: str, stage: Callable[[], Any]) -> Any:
    value, took, worst = held(stage)
    print(f"{name:>30} {1000 * took:>7.1f} {1000 * worst:>15.1f}")
    return value


def one_round(bundle: ModelBundle, body: bytes, rows: int) -> None:
    classes = list(bundle.metadata.classes)
    print(f"{'stage':>30} {'ms':>7} {'longest wait ms':>15}")
    show("orjson.loads", lambda: orjson.loads(body))
    request = show("parse_rows", lambda: parse_rows(body, max_rows=rows))
    columns = show("validate", lambda: validate(bundle, request))
    frame = show("columns_to_frame", lambda: columns_to_frame(bundle.metadata.schema, columns))
    proba = show("predict_proba", lambda: bundle.predict_proba(frame))

    def answer() -> dict[str, Any]:  # as ModelRuntime.answer builds it
        ids = [secrets.token_urlsafe(16) for _ in range(rows)]
        winners = [classes[i] for i in proba.argmax(axis=1).tolist()]
        probabilities = [dict(zip(classes, p, strict=True)) for p in proba.tolist()]
        return {"predictions": [{"prediction_id": i, "class": c, "probabilities": p}
                                for i, c, p in zip(ids, winners, probabilities, strict=True)]}

    built = show("answer (Python, per row)", answer)
    show("orjson.dumps(answer)", lambda: orjson.dumps(built))
    show("gc.collect()", gc.collect)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memory-mib", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    bundle = train_sample_model(rows=2000, seed=1, version="1")
    defaults = ServingSettings(model_uri="file:///unused")
    bounds = derive_bounds(memory_limit(args.memory_mib * 2**20), 1, defaults.max_body_bytes,
                           defaults.max_concurrency)
    body, rows = largest_body(bundle, bounds.max_body_bytes, 1_000_000)
    gc.collect()
    gc.freeze()  # as the server does once the model is loaded
    print(f"largest request: {rows:,} rows, {len(body) / 2**20:.2f} MiB")
    for n in range(1, args.rounds + 1):
        loadavg = " ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"round {n} (load average {loadavg})")
        one_round(bundle, body, rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
