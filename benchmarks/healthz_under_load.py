"""Probe latency, throughput and the worker's memory under the largest allowed requests.

One server (the sample model, SQLite prediction log, one worker) under a memory limit
(``--memory-mib``, VIGIA_MEMORY_LIMIT_BYTES; the cgroup's when lower) with every row the
largest body holds allowed. Two loads, each for ``--rounds`` rounds:

- largest: one client sends the largest body the derived bounds allow (arrays form: the
  most rows per byte), one request per round; prints its duration, rows per second, and
  the server's RSS before and at its peak (sampled every 20 ms), whose growth over the
  body's bytes is the expansion factor vigia_serving.bounds.BODY_EXPANSION must cover.
- concurrent: ``--clients`` clients send ``--rows``-row bodies back to back for
  ``--seconds``; prints requests and rows per second.

Meanwhile a separate process (as the kubelet is) polls /healthz and /readyz, one request
every PROBE_PAUSE_S, each on a new connection, on the port the kubelet asks: the probes'
(vigia_serving.probes), or the server's own with ``--no-probe-process``; with
``--server-port-too`` on both. For each: answers, p50, p99 and max latency in ms (the
target is 100 ms; the kubelet's probe times out at 2 s), and any answer other than 200.
The load average is printed with each round: the machine is shared, and the latencies
follow it.

    python3 benchmarks/healthz_under_load.py [--memory-mib 1024] [--rounds 3]
        [--clients 4] [--rows 500] [--seconds 10]
        [--working-dir DIR]   # DIR/vigia_serving: another checkout's server, to compare
        [--no-probe-process]  # VIGIA_PROBE_PORT=0 (with a checkout from before it)
        [--server-port-too]   # also poll the server's own port (more load on the worker)
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import multiprocessing
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psutil
from vigia_serving.bounds import derive_bounds, memory_limit
from vigia_serving.local import LocalServer
from vigia_serving.probes import PROBED_PATHS
from vigia_testbed.largest import largest_body

from vigia.bundle import export_bundle
from vigia.sample import train_sample_model
from vigia.settings import ServingSettings

ROWS_ALLOWED = 1_000_000
JSON = {"content-type": "application/json"}
# Between two probe requests: many more than the kubelet's, few enough that the probing
# is not itself the load (back to back, it took a third of the worker's requests).
PROBE_PAUSE_S = 0.01


def probe_loop(urls: list[str], stop: Connection, out: Connection) -> None:
    """In a process of its own: GET each URL in turn, PROBE_PAUSE_S apart (a new
    connection each, as the kubelet does) until told to stop; send back each one's
    (latency s, status) pairs."""
    seen: dict[str, list[tuple[float, int]]] = {url: [] for url in urls}
    targets = [(url, urlsplit(url)) for url in urls]
    out.send("probing")
    while not stop.poll():
        for url, parts in targets:
            started = time.perf_counter()
            connection = http.client.HTTPConnection(parts.netloc, timeout=30)
            try:
                connection.request("GET", parts.path)
                response = connection.getresponse()
                response.read()
                status = response.status
            except OSError:
                status = 0
            finally:
                connection.close()
            seen[url].append((time.perf_counter() - started, status))
            time.sleep(PROBE_PAUSE_S)
    out.send(seen)


@contextlib.contextmanager
def probing(urls: list[str]) -> Iterator[dict[str, list[tuple[float, int]]]]:
    """Probe ``urls`` from another process while the block runs; the dict is filled after."""
    context = multiprocessing.get_context("spawn")
    stop_r, stop_w = context.Pipe(duplex=False)
    out_r, out_w = context.Pipe(duplex=False)
    process = context.Process(target=probe_loop, args=(urls, stop_r, out_w), daemon=True)
    process.start()
    out_r.recv()  # it probes from now on
    seen: dict[str, list[tuple[float, int]]] = {}
    try:
        yield seen
    finally:
        stop_w.send(True)
        seen.update(out_r.recv())
        process.join(30)


def latency_line(name: str, seen: list[tuple[float, int]]) -> str:
    ms = sorted(1000 * latency for latency, _ in seen)
    if not ms:
        return f"{name:>28} no answers"
    p99 = ms[min(len(ms) - 1, int(0.99 * len(ms)))]
    others = sorted({status for _, status in seen} - {200})
    return (f"{name:>28} {len(ms):>6} {statistics.median(ms):>7.1f} {p99:>7.1f} "
            f"{ms[-1]:>7.1f}  {'non-200: ' + str(others) if others else ''}")


def rss_mib(pid: int) -> float:
    """Resident memory of the server process and its workers."""
    root = psutil.Process(pid)
    total = 0
    for process in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += process.memory_info().rss
    return total / 2**20


def largest_round(server: LocalServer, body: bytes, rows: int) -> str:
    assert server.process is not None
    pid = server.process.pid
    peak = [rss_mib(pid)]
    before = peak[0]
    done = threading.Event()

    def sample_rss() -> None:
        while not done.is_set():
            peak.append(rss_mib(pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample_rss)
    sampler.start()
    started = time.perf_counter()
    try:
        with httpx.Client(base_url=server.url, timeout=300) as client:
            client.post("/predict", content=body, headers=JSON).raise_for_status()
    finally:
        took = time.perf_counter() - started
        done.set()
        sampler.join()
    growth = (max(peak) - before) / (len(body) / 2**20)
    return (f"{took:.2f} s, {rows / took:,.0f} rows/s; RSS {before:.0f} -> peak "
            f"{max(peak):.0f} MiB (growth {growth:.1f} x body)")


def concurrent_round(server: LocalServer, body: bytes, rows: int, clients: int,
                     seconds: float) -> str:
    counts = [0] * clients
    refused = [0] * clients
    deadline = time.monotonic() + seconds

    def client_loop(n: int) -> None:
        with httpx.Client(base_url=server.url, timeout=300) as client:
            while time.monotonic() < deadline:
                status = client.post("/predict", content=body, headers=JSON).status_code
                if status == 200:
                    counts[n] += 1
                else:
                    refused[n] += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=client_loop, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    took = time.perf_counter() - started
    done = sum(counts)
    return (f"{done / took:.1f} requests/s, {done * rows / took:,.0f} rows/s "
            f"({clients} clients x {rows} rows; {sum(refused)} refused)")


def run_rounds(name: str, rounds: int, urls: list[str], load: Callable[[], str]) -> None:
    for n in range(1, rounds + 1):
        loadavg = " ".join(f"{x:.2f}" for x in os.getloadavg())
        with probing(urls) as seen:
            result = load()
        print(f"{name} round {n} (load average {loadavg}): {result}")
        print(f"{'probe':>28} {'n':>6} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7}")
        for url in urls:
            print(latency_line(url.split("//", 1)[1], seen[url]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memory-mib", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--rows", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--working-dir", type=Path, default=None,
                        help="serve vigia_serving from this directory (another checkout's)")
    parser.add_argument("--no-probe-process", action="store_true",
                        help="probes on the server's port only (VIGIA_PROBE_PORT=0; a "
                        "checkout from before vigia_serving.probes)")
    parser.add_argument("--server-port-too", action="store_true",
                        help="poll the server's own port too")
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
        small, _ = largest_body(bundle, bounds.max_body_bytes, args.rows)
        print(bounds.describe())
        print(f"largest request: {rows:,} rows, {len(body) / 2**20:.2f} MiB; concurrent: "
              f"{args.rows} rows, {len(small) / 2**10:.0f} KiB")
        server = LocalServer(work, {
            "VIGIA_MODEL_URI": uri, "VIGIA_STORE_URL": f"sqlite:///{work}/p.db",
            "VIGIA_MEMORY_LIMIT_BYTES": str(limit), "VIGIA_MAX_REQUEST_ROWS": str(ROWS_ALLOWED),
            **({"VIGIA_PROBE_PORT": "0"} if args.no_probe_process else {}),
        }, working_dir=args.working_dir).start_ready()
        try:
            bases = [server.url] if args.no_probe_process else [server.probe_url]
            if args.server_port_too and not args.no_probe_process:
                bases.append(server.url)
            urls = [base + path for base in bases for path in PROBED_PATHS]
            run_rounds("largest", args.rounds, urls, lambda: largest_round(server, body, rows))
            run_rounds("concurrent", args.rounds, urls, lambda: concurrent_round(
                server, small, args.rows, args.clients, args.seconds))
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
