"""Figures for models outside the cluster: telemetry size, following a release, small model.

- telemetry: the JSON report's size per 1,000 predictions (the device runner's aggregates
  for the sample model), and per 10,000 and 100 to show it does not grow with traffic
- following: the delay from a change of release.json (promotion, then rollback) on a local
  static host to a device runner process (vigia.onnx.device, checking every --interval)
  answering /predict with the new version, over real HTTP; median of --rounds switches
- small model: the smallest forest within one point of the full sample model's holdout
  accuracy: trees, depth, nodes, model.onnx size, accuracy and the runner's time per row
  against the full model

    python3 benchmarks/edge_watch.py [--interval 1.0] [--rounds 6] [--rows 5000]
        [--parts telemetry follow small]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from sklearn.model_selection import train_test_split

from vigia.bundle import make_bundle
from vigia.onnx.export import compile_bundle
from vigia.onnx.release import point_release, publish_version
from vigia.onnx.small import runner_seconds_per_row, smallest_forest
from vigia.onnx.telemetry import Aggregates
from vigia.sample import production_line, sample_pipeline, traffic_records, train_sample_model

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def telemetry_size() -> None:
    compiled = compile_bundle(train_sample_model(rows=2000, seed=1, version="1"))
    print("\ntelemetry report (sample model, 12 features, 2 classes)")
    print(f"{'predictions':>12} {'JSON bytes':>11} {'bytes per 1,000 predictions':>28}")
    for n in (100, 1000, 10_000):
        runner = compiled.runner()
        runner.aggregates = Aggregates(compiled.manifest)
        records, _ = traffic_records(n, seed=3)
        runner.predict(records)
        size = len(json.dumps(runner.aggregates.take_report()).encode())
        raw = len(json.dumps(records).encode())
        print(f"{n:>12,} {size:>11,} {1000 * size / n:>28,.0f}   (the rows themselves: "
              f"{raw:,} bytes)")


def wait_version(url: str, version: str, timeout: float = 120) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            answer = httpx.post(url, json={"rows": ROW}, timeout=5)
            if answer.status_code == 200 and answer.json()["version"] == version:
                return time.monotonic()
        except httpx.HTTPError:
            pass
        time.sleep(0.01)
    raise RuntimeError(f"never served version {version}")


ROW = traffic_records(1, seed=4)[0]


def following(interval: float, rounds: int) -> None:
    with tempfile.TemporaryDirectory(prefix="vigia-follow-") as tmp:
        work = Path(tmp)
        site = work / "site"
        for v in ("1", "2"):
            compiled = compile_bundle(train_sample_model(rows=2000, seed=int(v), version=v))
            publish_version(site, compiled.model, compiled.manifest)
        point_release(site, "1")
        host_port, device_port = free_port(), free_port()
        base = f"http://{LOOPBACK}:{host_port}"
        processes = [
            subprocess.Popen([sys.executable, "-m", "http.server", str(host_port), "--bind",
                              LOOPBACK, "-d", str(site)], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL),
            subprocess.Popen([sys.executable, "-m", "vigia.onnx.device", "--release",
                              f"{base}/release.json", "--store", str(work / "store"),
                              "--interval", str(interval), "--port", str(device_port)]),
        ]
        predict = f"http://{LOOPBACK}:{device_port}/predict"
        delays = []
        try:
            wait_version(predict, "1")
            for i in range(rounds):
                version = "2" if i % 2 == 0 else "1"
                # A change lands anywhere within the device's check interval.
                time.sleep(random.uniform(0, interval))
                changed = time.monotonic()
                point_release(site, version)
                delays.append(wait_version(predict, version) - changed)
        finally:
            for process in processes:
                process.terminate()
                process.wait(10)
    print(f"\nfollowing a release (device checks every {interval:g} s; promote and roll back "
          f"alternately, {rounds} switches, each at a random point of the interval)")
    print(f"  delay from release.json changed to /predict answering the new version: median "
          f"{statistics.median(delays):.2f} s, min {min(delays):.2f} s, max {max(delays):.2f} s")


def small_model(rows: int) -> None:
    X, y = production_line(rows, seed=7)
    X_train, X_hold, y_train, y_hold = train_test_split(
        X, y, test_size=0.2, random_state=7, stratify=y)
    full = make_bundle(sample_pipeline(7).fit(X_train, y_train), X_train, y_train,
                       name="sobaos", version="1", X_holdout=X_hold, y_holdout=y_hold)
    started = time.perf_counter()
    small = smallest_forest(full, X_train, y_train, X_hold, y_hold)
    searched = time.perf_counter() - started
    full_compiled = compile_bundle(full, X_hold[list(full.metadata.schema.names)])
    one, _ = traffic_records(1, seed=8)
    many, _ = traffic_records(1000, seed=8)
    print(f"\nsmall model (sample Pipeline, {rows:,} rows, holdout {len(X_hold):,}; "
          f"{len(small.candidates)} candidates searched in {searched:.1f} s)")
    print(f"{'model':>6} {'trees':>6} {'depth':>6} {'nodes':>7} {'onnx KiB':>9} "
          f"{'accuracy':>9} {'us/row (1)':>11} {'us/row (1000)':>14} {'parity':>8}")
    for name, compiled, chosen in (("full", full_compiled, small.full),
                                   ("small", small.compiled, small.chosen)):
        print(f"{name:>6} {chosen.trees:>6} {chosen.depth!s:>6} {chosen.nodes:>7,} "
              f"{len(compiled.model) / 1024:>9.0f} {chosen.accuracy:>9.4f} "
              f"{1e6 * runner_seconds_per_row(compiled, one, 200):>11.1f} "
              f"{1e6 * runner_seconds_per_row(compiled, many, 20):>14.2f} "
              f"{compiled.parity.max_probability_difference:>8.1g}")
    print(f"  accuracy loss {100 * small.accuracy_loss:.2f} points; size "
          f"{len(small.compiled.model) / len(full_compiled.model):.1%} of the full model's")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--parts", nargs="*", default=["telemetry", "follow", "small"])
    args = parser.parse_args()
    if "telemetry" in args.parts:
        telemetry_size()
    if "follow" in args.parts:
        following(args.interval, args.rounds)
    if "small" in args.parts:
        small_model(args.rows)


if __name__ == "__main__":
    main()
