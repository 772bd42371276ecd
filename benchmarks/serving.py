"""Throughput and tail latency of single-row prediction: Vigía against MLServer and BentoML.

Targets: ``vigia`` — Vigía's server, monitoring and prediction logging (SQLite, all
features) on, one worker; ``vigia-2w`` — the same with two workers (MLServer too runs
two processes: HTTP and inference); ``mlserver-batch`` / ``mlserver`` — MLServer with
adaptive batching on / off (benchmarks/mlserver_target.py, a venv of its own);
``baseline`` — benchmarks/baseline_service.py, a plain BentoML service; optional
``vigia-nomon`` (monitoring off). The same RandomForest (50 trees, 10
features), each target its own process on 127.0.0.1, driven by `wrk` (one thread).

All targets run at once and each level is measured in interleaved rounds, so that
background load on a shared machine falls on every target alike; the load average is
printed beside each level. p50 is the median of the rounds' p50s, p99 the worst round's.
RSS (the process tree's) is taken idle, before any load, and as the largest seen after a
round. ``--overload`` adds a level at 4x the highest client count: wrk counts 200s, 503s
(with and without Retry-After) and others, while a probe client sends one request every
20 ms and records the latency of those accepted.

    python3 benchmarks/serving.py [--duration 20] [--rounds 4] [--concurrency 1,16,64]
        [--targets vigia,vigia-2w,mlserver-batch,mlserver,baseline] [--overload]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
from mlserver_target import MLServerProcess, infer_body
from vigia_serving.local import LocalServer

from vigia.bundle import ModelBundle, export_bundle
from vigia.sample import reference_benchmark_model, traffic_records
from vigia.settings import env_name

HERE = Path(__file__).resolve().parent
LUA = """
local bodies = {%(bodies)s}
local i = 0
local threads = {}
setup = function(thread) table.insert(threads, thread) end
init = function(args) ok = 0; shed = 0; shed_no_retry = 0; other = 0 end
request = function()
  i = i %% #bodies + 1
  return wrk.format("POST", "%(path)s", {["Content-Type"] = "application/json"}, bodies[i])
end
%(response)s
done = function(summary, latency, requests)
  local e = summary.errors
  local t = threads[1]
  io.write(string.format(
    "RESULT {\\"requests\\": %%d, \\"duration_us\\": %%d, \\"p50_us\\": %%d, \\"p99_us\\": %%d, " ..
    "\\"errors\\": %%d, \\"socket_errors\\": %%d, \\"ok\\": %%d, \\"shed\\": %%d, " ..
    "\\"shed_no_retry\\": %%d, \\"other\\": %%d}\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout + e.status, e.connect + e.read + e.write + e.timeout,
    t:get("ok"), t:get("shed"), t:get("shed_no_retry"), t:get("other")))
end
"""
# Only the overload script inspects responses: a response() callback costs wrk time.
COUNT_RESPONSES = """
response = function(status, headers, body)
  if status == 200 then ok = ok + 1
  elseif status == 503 then
    shed = shed + 1
    if headers["Retry-After"] == nil and headers["retry-after"] == nil then
      shed_no_retry = shed_no_retry + 1
    end
  else other = other + 1 end
end
"""


@dataclass(frozen=True)
class Result:
    target: str
    clients: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    rss_mib: float
    load: float


@dataclass
class Target:
    name: str
    url: str
    path: str
    pid: int
    lua: Path
    overload_lua: Path
    stop: Any


def complete_rows(n: int = 200) -> list[list[float]]:
    records, _ = traffic_records(n, seed=7, numeric_only=True)
    # The reference model was trained without missing values: send complete rows only.
    return [[float(v) for v in r.values()] for r in records if None not in r.values()]  # type: ignore[arg-type]


def write_lua(path: Path, url_path: str, bodies: list[str], count: bool) -> Path:
    lua_strings = ", ".join("[=[" + b + "]=]" for b in bodies)
    response = COUNT_RESPONSES if count else ""
    path.write_text(LUA % {"bodies": lua_strings, "path": url_path, "response": response})
    return path


def start(name: str, work: Path, uri: str, bundle: ModelBundle) -> Target:
    rows = complete_rows()
    if name.startswith("mlserver"):
        batching = name == "mlserver-batch"
        ml = MLServerProcess(work, bundle.estimator, max_batch_size=64 if batching else 0,
                             max_batch_time_s=0.005 if batching else 0.0).start_ready(600)
        bodies = [infer_body(r) for r in rows]
        assert ml.process is not None
        return _target(name, work, ml.url, ml.path, ml.process.pid, bodies, ml.stop)
    env = {
        env_name("model_uri"): uri,
        env_name("store_url"): f"sqlite:///{work}/log-{name}.db",
        env_name("monitoring"): "false" if "-nomon" in name else "true",
        env_name("workers"): "2" if name.endswith("-2w") else "1",
        env_name("runtime"): "onnx" if "-onnx" in name else "sklearn",
    }
    if name == "baseline":
        server = LocalServer(work, env, service="baseline_service:Baseline", working_dir=HERE)
    else:
        server = LocalServer(work, env)
    server.start_ready(timeout=600)  # a loaded shared machine imports slowly
    assert server.process is not None
    bodies = [json.dumps({"rows": [r]}) for r in rows]
    return _target(name, work, server.url, "/predict", server.process.pid, bodies, server.stop)


def _target(name: str, work: Path, url: str, path: str, pid: int, bodies: list[str],
            stop: Any) -> Target:
    lua = write_lua(work / f"{name}.lua", path, bodies, count=False)
    overload = write_lua(work / f"{name}-overload.lua", path, bodies, count=True)
    return Target(name, url, path, pid, lua, overload, stop)


def rss_mib(pid: int) -> float:
    """Resident memory of a server process and all its children."""
    root = psutil.Process(pid)
    total = 0
    for process in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += process.memory_info().rss
    return total / 2**20


def run_wrk(target: Target, clients: int, duration: int, overload: bool = False) -> dict[str, int]:
    lua = target.overload_lua if overload else target.lua
    cmd = ["wrk", "-t1", f"-c{clients}", f"-d{duration}s", "--timeout", "10s", "-s", str(lua),
           target.url + target.path]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    line = next(x for x in out.splitlines() if x.startswith("RESULT "))
    return dict(json.loads(line[len("RESULT "):]))


def measure(targets: list[Target], clients: int, duration: int, rounds: int,
            peak_rss: dict[str, float]) -> list[Result]:
    """Interleaved rounds (a, b, c, b, c, a, ...): background load on a shared machine
    drifts over minutes, and interleaving spreads it evenly over the targets."""
    for target in targets:
        run_wrk(target, clients, 2)  # warm-up
    raw: dict[str, list[dict[str, int]]] = {t.name: [] for t in targets}
    loads: list[float] = []
    for r in range(rounds):
        for target in targets[r % len(targets):] + targets[: r % len(targets)]:
            out = run_wrk(target, clients, max(1, duration // rounds))
            peak_rss[target.name] = max(peak_rss.get(target.name, 0.0), rss_mib(target.pid))
            loads.append(os.getloadavg()[0])
            raw[target.name].append(out)
            print(f"  round {r} {target.name} c={clients} load={loads[-1]:.1f}: {out}",
                  file=sys.stderr, flush=True)
    results = []
    for name, runs in raw.items():
        requests = sum(x["requests"] for x in runs)
        seconds = sum(x["duration_us"] for x in runs) / 1e6
        p50 = statistics.median(x["p50_us"] for x in runs) / 1000
        p99 = max(x["p99_us"] for x in runs) / 1000
        errors = sum(x["errors"] for x in runs)
        results.append(Result(name, clients, requests / seconds, p50, p99, errors,
                              peak_rss[name], statistics.mean(loads)))
    return results


def probe(url: str, body: str, stop: threading.Event, latencies: list[float],
          refusals: list[str]) -> None:
    """One request every 20 ms during overload: latency of the accepted ones."""
    headers = {"content-type": "application/json"}
    with httpx.Client(timeout=30) as client:
        while not stop.is_set():
            started = time.perf_counter()
            try:
                response = client.post(url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                refusals.append(type(exc).__name__)
                continue
            if response.status_code == 200:
                latencies.append(time.perf_counter() - started)
            else:
                refusals.append(f"{response.status_code} retry-after="
                                f"{response.headers.get('retry-after')}")
            time.sleep(0.02)


def overload(targets: list[Target], clients: int, duration: int) -> None:
    print(f"\noverload: {clients} clients, {duration} s each; accepted latency from a probe")
    print(f"{'target':<15} {'req/s':>7} {'200':>7} {'503':>7} {'503 w/o RA':>10} "
          f"{'other':>6} {'sock err':>8} {'probe p50':>9} {'probe p99':>9} {'load':>5}")
    for target in targets:
        stop = threading.Event()
        latencies: list[float] = []
        refusals: list[str] = []
        body = target.lua.read_text().split("[=[", 1)[1].split("]=]", 1)[0]
        thread = threading.Thread(target=probe, args=(target.url + target.path, body, stop,
                                                       latencies, refusals))
        thread.start()
        try:
            out = run_wrk(target, clients, duration, overload=True)
        finally:
            stop.set()
            thread.join()
        qs = statistics.quantiles(latencies, n=100) if len(latencies) > 2 else [0.0] * 99
        rps = out["requests"] / (out["duration_us"] / 1e6)
        print(f"{target.name:<15} {rps:>7.0f} {out['ok']:>7} {out['shed']:>7} "
              f"{out['shed_no_retry']:>10} {out['other']:>6} {out['socket_errors']:>8} "
              f"{1000 * qs[49]:>8.1f}ms {1000 * qs[98]:>8.1f}ms {os.getloadavg()[0]:>5.1f}")
        if refusals:
            print(f"  probe refusals: {sorted(set(refusals))[:4]} ({len(refusals)})")


def report(results: list[Result], idle_rss: dict[str, float]) -> None:
    print(f"{'target':<15} {'clients':>7} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'errors':>7} {'RSS MiB':>8} {'load':>5}")
    for r in results:
        print(f"{r.target:<15} {r.clients:>7} {r.rps:>9.0f} {r.p50_ms:>8.1f} "
              f"{r.p99_ms:>8.1f} {r.errors:>7} {r.rss_mib:>8.0f} {r.load:>5.1f}")
    print("idle RSS MiB: " + ", ".join(f"{k} {v:.0f}" for k, v in idle_rss.items()))
    by = {(r.target, r.clients): r for r in results}
    ours = sorted({r.target for r in results if r.target.startswith("vigia")})
    for clients in sorted({r.clients for r in results}):
        for name in ours:
            vigia = by.get((name, clients))
            for other in ("mlserver-batch", "mlserver", "baseline"):
                them = by.get((other, clients))
                if vigia and them:
                    print(f"clients={clients}: {name}/{other} = {vigia.rps / them.rps:.2f}x "
                          f"req/s, p99 {vigia.p99_ms:.1f} vs {them.p99_ms:.1f} ms")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=20, help="seconds per level and target")
    parser.add_argument("--concurrency", default="1,16,64")
    parser.add_argument("--targets", default="vigia,vigia-2w,mlserver-batch,mlserver,baseline",
                        help="vigia-2w: two workers; also: vigia-nomon (monitoring off), "
                        "vigia-onnx (runtime onnx), combined: vigia-onnx-2w")
    parser.add_argument("--rounds", type=int, default=4, help="interleaved rounds per level")
    parser.add_argument("--overload", action="store_true",
                        help="then 4x the highest client count, each target alone")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: apt-get install wrk")
    levels = [int(c) for c in args.concurrency.split(",")]
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="vigia-bench-") as tmp:
        work = Path(tmp)
        uri = str(work / "reference.bentomodel")
        bundle = reference_benchmark_model()
        export_bundle(bundle, uri, home=work / "export")
        targets: list[Target] = []
        try:
            for name in args.targets.split(","):
                targets.append(start(name, work, uri, bundle))
            time.sleep(2)
            idle = {t.name: rss_mib(t.pid) for t in targets}
            peak: dict[str, float] = {}
            for clients in levels:
                results += measure(targets, clients, args.duration, args.rounds, peak)
            report(results, idle)
            if args.overload:
                overload(targets, 4 * max(levels), args.duration)
        finally:
            for target in targets:
                target.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
