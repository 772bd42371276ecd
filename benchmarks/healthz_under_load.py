"""/healthz latency and the worker's memory while the largest allowed /predict runs.

One server (the sample model, SQLite prediction log, one worker) under a memory limit
(``--memory-mib``, VIGIA_MEMORY_LIMIT_BYTES; the cgroup's when lower) with every row the
largest body holds allowed. One client sends the largest body the derived bounds allow
(arrays form: the most rows per byte); another polls /healthz back to back meanwhile.
Prints the bounds, the request's rows, bytes and duration, the number of /healthz answers
during it with their p50 and max latency (the kubelet's probe times out at 2 s), and the
server's RSS before and at its peak (sampled every 20 ms), whose growth over the body's
bytes is the expansion factor vigia_serving.bounds.BODY_EXPANSION must cover.

    python3 benchmarks/healthz_under_load.py [--memory-mib 1024] [--rounds 3]
        [--working-dir DIR]   # DIR/vigia_serving: another checkout's server, to compare
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx
import psutil
from vigia_serving.bounds import derive_bounds, memory_limit
from vigia_serving.local import LocalServer
from vigia_testbed.largest import largest_body

from vigia.bundle import export_bundle
from vigia.sample import train_sample_model
from vigia.settings import ServingSettings

ROWS_ALLOWED = 1_000_000
JSON = {"content-type": "application/json"}


def rss_mib(pid: int) -> float:
    """Resident memory of the server process and its workers."""
    root = psutil.Process(pid)
    total = 0
    for process in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += process.memory_info().rss
    return total / 2**20


def one_round(server: LocalServer, body: bytes) -> dict[str, float]:
    assert server.process is not None
    pid = server.process.pid
    latencies: list[float] = []
    peak = [rss_mib(pid)]
    before = peak[0]
    done = threading.Event()
    took: list[float] = []

    def send() -> None:
        started = time.perf_counter()
        try:
            with httpx.Client(base_url=server.url, timeout=300) as client:
                client.post("/predict", content=body, headers=JSON).raise_for_status()
        finally:
            took.append(time.perf_counter() - started)
            done.set()

    def sample_rss() -> None:
        while not done.is_set():
            peak.append(rss_mib(pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample_rss)
    sender = threading.Thread(target=send)
    with httpx.Client(base_url=server.url, timeout=30) as probe:
        probe.get("/healthz")
        sampler.start()
        sender.start()
        while not done.is_set():
            started = time.perf_counter()
            probe.get("/healthz").raise_for_status()
            if not done.is_set():
                latencies.append(time.perf_counter() - started)
    sender.join()
    sampler.join()
    return {"request_s": took[0], "answers": len(latencies),
            "p50_ms": 1000 * statistics.median(latencies) if latencies else float("nan"),
            "max_ms": 1000 * max(latencies) if latencies else float("nan"),
            "rss_before": before, "rss_peak": max(peak)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memory-mib", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--working-dir", type=Path, default=None,
                        help="serve vigia_serving from this directory (another checkout's)")
    args = parser.parse_args(argv)
    limit = args.memory_mib * 2**20
    with tempfile.TemporaryDirectory(prefix="vigia-healthz-") as tmp:
        work = Path(tmp)
        bundle = train_sample_model(rows=2000, seed=1, version="1")
        uri = f"file://{work}/sobaos.bentomodel"
        export_bundle(bundle, uri, home=work / "export")
        defaults = ServingSettings(model_uri=uri)
        bounds = derive_bounds(memory_limit(limit), 1, defaults.max_body_bytes,
                               defaults.max_concurrency)
        body, rows = largest_body(bundle, bounds.max_body_bytes, ROWS_ALLOWED)
        print(bounds.describe())
        print(f"largest request: {rows:,} rows, {len(body) / 2**20:.2f} MiB")
        server = LocalServer(work, {
            "VIGIA_MODEL_URI": uri, "VIGIA_STORE_URL": f"sqlite:///{work}/p.db",
            "VIGIA_MEMORY_LIMIT_BYTES": str(limit), "VIGIA_MAX_REQUEST_ROWS": str(ROWS_ALLOWED),
        }, working_dir=args.working_dir).start_ready()
        try:
            print(f"{'round':>5} {'request s':>9} {'healthz n':>9} {'p50 ms':>7} {'max ms':>7} "
                  f"{'RSS MiB':>8} {'peak MiB':>8} {'growth/body':>11}")
            for n in range(1, args.rounds + 1):
                r = one_round(server, body)
                growth = (r["rss_peak"] - r["rss_before"]) / (len(body) / 2**20)
                print(f"{n:>5} {r['request_s']:>9.2f} {r['answers']:>9.0f} {r['p50_ms']:>7.1f} "
                      f"{r['max_ms']:>7.1f} {r['rss_before']:>8.0f} {r['rss_peak']:>8.0f} "
                      f"{growth:>11.1f}")
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
