"""Throughput of single-row /predict: Vigía's server against a plain BentoML service.

Targets: (a) baseline — benchmarks/baseline_service.py, BentoML defaults, no batching;
(b) vigia — Vigía's server, monitoring and prediction logging on; (c) vigia-nomon —
the same with monitoring off; vigia-2w — (b) with two worker processes. Each runs as
its own `bentoml serve` process on 127.0.0.1 and is driven by `wrk` (C, one thread; apt
package "wrk") at 1, 16 and 64 connections. Prints requests/s, p50, p99 and errors, and
the ratios b/a and b/c.
All servers run at once; each level is measured in interleaved rounds (duration split
over --rounds); p50 is the median of the rounds' p50s, p99 the worst round's p99.

    python3 benchmarks/serving.py [--duration 20] [--rounds 4] [--concurrency 1,16,64]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from vigia_serving.local import LocalServer

from vigia.bundle import export_bundle
from vigia.sample import reference_benchmark_model, traffic_records
from vigia.settings import env_name

HERE = Path(__file__).resolve().parent
LUA = """
local bodies = {%(bodies)s}
local i = 0
request = function()
  i = i %% #bodies + 1
  return wrk.format("POST", "/predict", {["Content-Type"] = "application/json"}, bodies[i])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT {\\"requests\\": %%d, \\"duration_us\\": %%d, \\"p50_us\\": %%d, \\"p99_us\\": %%d, " ..
    "\\"errors\\": %%d}\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout + e.status))
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


def write_lua(path: Path, rows: int = 200) -> None:
    records, _ = traffic_records(rows, seed=7, numeric_only=True)
    # The reference model was trained without missing values: send complete rows only.
    complete = [r for r in records if None not in r.values()]
    bodies = [json.dumps({"rows": [list(r.values())]}) for r in complete]
    lua_strings = ", ".join("[=[" + b + "]=]" for b in bodies)
    path.write_text(LUA % {"bodies": lua_strings})


def start(target: str, work: Path, uri: str) -> LocalServer:
    env = {
        env_name("model_uri"): uri,
        env_name("store_url"): f"sqlite:///{work}/log-{target}.db",
        env_name("monitoring"): "false" if target == "vigia-nomon" else "true",
        env_name("workers"): "2" if target == "vigia-2w" else "1",
        env_name("runtime"): "onnx" if target == "vigia-onnx" else "sklearn",
    }
    if target == "baseline":
        server = LocalServer(work, env, service="baseline_service:Baseline", working_dir=HERE)
    else:
        server = LocalServer(work, env)
    return server.start_ready()


def run_wrk(lua: Path, port: int, clients: int, duration: int) -> dict[str, int]:
    cmd = ["wrk", "-t1", f"-c{clients}", f"-d{duration}s", "--timeout", "5s", "-s", str(lua),
           f"http://127.0.0.1:{port}/predict"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    line = next(x for x in out.splitlines() if x.startswith("RESULT "))
    return dict(json.loads(line[len("RESULT "):]))


def measure(
    targets: dict[str, int], clients: int, lua: Path, duration: int, rounds: int
) -> list[Result]:
    """Interleaved rounds (a, b, c, b, c, a, ...): background load on a shared machine
    drifts over minutes, and interleaving spreads it evenly over the targets."""
    names = list(targets)
    for name in names:
        run_wrk(lua, targets[name], clients, 2)  # warm-up
    raw: dict[str, list[dict[str, int]]] = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names):] + names[: r % len(names)]:
            out = run_wrk(lua, targets[name], clients, max(1, duration // rounds))
            raw[name].append(out)
            print(f"  round {r} {name} c={clients}: {out}", file=sys.stderr, flush=True)
    results = []
    for name, runs in raw.items():
        requests = sum(x["requests"] for x in runs)
        seconds = sum(x["duration_us"] for x in runs) / 1e6
        p50 = statistics.median(x["p50_us"] for x in runs) / 1000
        p99 = max(x["p99_us"] for x in runs) / 1000
        errors = sum(x["errors"] for x in runs)
        results.append(Result(name, clients, requests / seconds, p50, p99, errors))
    return results


def report(results: list[Result]) -> None:
    print(f"{'target':<12} {'clients':>7} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for r in results:
        print(f"{r.target:<12} {r.clients:>7} {r.rps:>9.0f} {r.p50_ms:>8.1f} "
              f"{r.p99_ms:>8.1f} {r.errors:>7}")
    by = {(r.target, r.clients): r for r in results}
    for clients in sorted({r.clients for r in results}):
        a, b, c = (by.get((t, clients)) for t in ("baseline", "vigia", "vigia-nomon"))
        if a and b:
            print(f"clients={clients}: vigia/baseline = {b.rps / a.rps:.1f}x")
        if b and c:
            print(f"clients={clients}: vigia/vigia-nomon = {b.rps / c.rps:.2f} "
                  f"(monitoring costs {100 * (1 - b.rps / c.rps):.1f}%)")
        two = by.get(("vigia-2w", clients))
        if a and two:
            print(f"clients={clients}: vigia-2w/baseline = {two.rps / a.rps:.1f}x")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=20, help="seconds per run")
    parser.add_argument("--concurrency", default="1,16,64")
    parser.add_argument(
        "--targets", default="baseline,vigia,vigia-nomon,vigia-2w",
        help="vigia-2w: monitoring on, two worker processes; vigia-onnx: runtime onnx",
    )
    parser.add_argument("--rounds", type=int, default=4, help="interleaved rounds per level")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: apt-get install wrk")
    levels = [int(c) for c in args.concurrency.split(",")]
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="vigia-bench-") as tmp:
        work = Path(tmp)
        uri = str(work / "reference.bentomodel")
        export_bundle(reference_benchmark_model(), uri, home=work / "export")
        lua = work / "predict.lua"
        write_lua(lua)
        servers: list[LocalServer] = []
        try:
            targets: dict[str, int] = {}
            for target in args.targets.split(","):
                servers.append(start(target, work, uri))
                targets[target] = servers[-1].port
            for clients in levels:
                results += measure(targets, clients, lua, args.duration, args.rounds)
        finally:
            for server in servers:
                server.stop()
    report(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
