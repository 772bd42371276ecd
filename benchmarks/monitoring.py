"""Monitoring at scale: N ModelDeployments x 10 features through a real Prometheus.

    python3 benchmarks/monitoring.py [--models 1000] [--features 10] [--minutes 5]
    KUBECONFIG=... python3 benchmarks/monitoring.py --operator [--tick 30]

How: one exporter process (this file, ``--exporter``) serves, on one /metrics endpoint, the
series N model servers would export under the metrics contract (namespace, model, version,
track; per feature 10 bin counters and 10 reference-share gauges, missing/out-of-range,
predictions by class, class priors, the confidence histogram, feedback, confusion) with
counters growing at fixed rates; every tenth model has one feature whose bin mix moved. The
real Prometheus (tools/prometheus build) scrapes it every 15 s and evaluates the shipped
recording rules (manifests/prometheus) every minute. After ``--minutes`` of data,
this process runs the operator's monitoring tick — vigia_operator.prometheus: the batched
queries (PrometheusSignals) and the pure evaluation of every model — a few times.

With ``--operator`` the operator itself runs too, as in the integration tests (a separate
process, its ServiceAccount, on the cluster of $KUBECONFIG, e.g. `python3 -m
vigia_devcluster up --name monitoring`): the N ModelDeployments are created (their names
and namespaces are the exporter's; kwok's pods run nothing), and after the data the
benchmark reads, over ``--ticks`` of the operator's ticks, its own tick report (collection,
evaluation and the status writes of every model), its /metrics (queries, collection
time), its RSS, and which ModelDeployments carry Drifted=True.

Prints: tick duration, queries per tick (and per signal time), the drifted models flagged
(missed and extra ones named), this process's RSS (it holds only the operator's analysis),
Prometheus's series count and RSS, the scrape's duration, and the load average. Exits 1
when the last tick did not flag exactly the drifted models (a wrong answer, not a slow one).
"""

from __future__ import annotations

import argparse
import http.server
import importlib
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import psutil

# This checkout's packages first, here and in the operator process it starts.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools" / "testbed"))
importlib.import_module("vigia_testbed.checkout").use_this_checkout()

from vigia_testbed.net import free_port  # noqa: E402
from vigia_testbed.prometheus import PrometheusServer, Target  # noqa: E402

from vigia import metrics  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BINS = 10
CLASSES = ("good", "defective")
PRIORS = (0.8, 0.2)
ROWS_PER_S = 20.0  # per model: 500 rows (minSamples) within 25 s of data
DRIFTED_FEATURE = 3
SHIFTED_SHARES = np.array([0.02, 0.03, 0.05, 0.1, 0.1, 0.1, 0.1, 0.15, 0.15, 0.2])


NAMESPACES = 10
PREFIX = ["ns"]  # the namespaces' prefix (--prefix: a fresh one per run on a cluster)


def model_key(i: int) -> tuple[str, str]:
    return f"{PREFIX[0]}-{i % NAMESPACES}", f"model-{i:04d}"


def is_drifted(i: int) -> bool:
    return i % 10 == 0


class Exposition:
    """The text of N model servers' series: fixed label prefixes, values rate x elapsed."""

    def __init__(self, models: int, features: int) -> None:
        self.started = time.time()
        prefixes: list[str] = []
        rates: list[float] = []
        gauges: list[str] = []
        for i in range(models):
            ns, name = model_key(i)
            base = f'namespace="{ns}",model="{name}",version="1",track="stable"'
            for f in range(features):
                shares = SHIFTED_SHARES if is_drifted(i) and f == DRIFTED_FEATURE else \
                    np.full(BINS, 1.0 / BINS)
                for b in range(BINS):
                    labels = f'{base},feature="f{f}",bin="{b}"'
                    prefixes.append(f"{metrics.FEATURE_BIN_SERIES}{{{labels}}}")
                    rates.append(ROWS_PER_S * float(shares[b]))
                    gauges.append(f"{metrics.FEATURE_REFERENCE}{{{labels}}} {1.0 / BINS}")
                for counter in (metrics.FEATURE_MISSING_SERIES,
                                metrics.FEATURE_OUT_OF_RANGE_SERIES):
                    prefixes.append(f'{counter}{{{base},feature="f{f}"}}')
                    rates.append(0.01)
            for c, prior in zip(CLASSES, PRIORS, strict=True):
                prefixes.append(f'{metrics.PREDICTIONS_SERIES}{{{base},class="{c}"}}')
                rates.append(ROWS_PER_S * prior)
                gauges.append(f'{metrics.CLASS_PRIOR}{{{base},class="{c}"}} {prior}')
            for le, share in zip((*metrics.CONFIDENCE_BUCKETS, "+Inf"),
                                 (0, 0.05, 0.15, 0.35, 0.6, 0.8, 0.95, 1.0, 1.0), strict=True):
                prefixes.append(f'{metrics.CONFIDENCE}_bucket{{{base},le="{le}"}}')
                rates.append(ROWS_PER_S * share)
            prefixes += [f"{metrics.CONFIDENCE}_sum{{{base}}}",
                         f"{metrics.CONFIDENCE}_count{{{base}}}"]
            rates += [ROWS_PER_S * 0.8, ROWS_PER_S]
            for outcome, share in (("correct", 0.9), ("incorrect", 0.1)):
                prefixes.append(f'{metrics.FEEDBACK_SERIES}{{{base},outcome="{outcome}"}}')
                rates.append(share)
        self.prefixes = prefixes
        self.rates = np.array(rates)
        self.gauges = "\n".join(gauges)

    def render(self) -> bytes:
        values = self.rates * (time.time() - self.started)
        counters = "\n".join(f"{p} {v:.3f}" for p, v in zip(self.prefixes, values.tolist(),
                                                            strict=True))
        return (counters + "\n" + self.gauges + "\n").encode()

    @property
    def series(self) -> int:
        return len(self.prefixes) + self.gauges.count("\n") + 1


def run_exporter(port: int, models: int, features: int) -> None:
    exposition = Exposition(models, features)
    latest = [exposition.render()]

    def refresh() -> None:
        # Rendering 200k+ lines takes seconds on a loaded machine: a scrape gets the latest
        # rendering at once instead of timing out.
        while True:
            latest[0] = exposition.render()
            time.sleep(2)

    threading.Thread(target=refresh, daemon=True).start()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = latest[0]
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    print(f"exporter: {exposition.series} series on 127.0.0.1:{port}", flush=True)
    http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


def tick(url: str, models: int, window: str) -> dict[str, object]:
    from vigia_operator.core import reasons as catalogue
    from vigia_operator.decide import monitoring as ev
    from vigia_operator.prometheus.client import PrometheusClient
    from vigia_operator.prometheus.collect import MonitoredModel, PrometheusSignals
    from vigia_operator.view.monitoring import MonitoringSpec

    spec = MonitoringSpec(window=window)
    monitored = [MonitoredModel(model_key(i), spec) for i in range(models)]
    provider = PrometheusSignals(PrometheusClient(url, timeout_s=120))
    started = time.perf_counter()
    now = time.time()
    signals = provider.collect(monitored, now)
    collected = time.perf_counter()
    flagged = set()
    reasons: dict[str, int] = {}
    examples: dict[str, str] = {}
    for i, m in enumerate(monitored):
        verdict = ev.assess(m.spec, signals.of(m.key), now=now, unavailable=signals.unavailable)
        drifted = verdict.condition(catalogue.DRIFTED)
        if drifted is not None and drifted.status == "True":
            flagged.add(i)
        if drifted is not None:
            reasons[drifted.reason] = reasons.get(drifted.reason, 0) + 1
            examples.setdefault(drifted.reason, f"{m.key}: {drifted.message}")
    ended = time.perf_counter()
    return {
        "seconds": ended - started,
        "query_seconds": collected - started,
        "evaluate_seconds": ended - collected,
        "queries": signals.queries,
        "errors": signals.query_errors,
        "unavailable": signals.unavailable,
        "per_signal": {k: round(v, 2) for k, v in provider.last_stats.seconds.items()},
        "flagged": flagged,
        "drifted_reasons": reasons,
        "examples": examples,
    }


TICK_LINE = re.compile(r"Tick: TickReport\(models=(\d+), with_signals=(\d+), applied=(\d+), "
                       r"written=(\d+), seconds=([0-9.]+)\)")
# The operator as usual, with its tick report (a debug line) logged: kopf's own debug
# output for 1,000 objects would be the benchmark's load.
OPERATOR_MODULE = """
import logging
from vigia_operator import __main__ as operator_main
logging.getLogger("vigia_operator.engine.tick").setLevel(logging.DEBUG)
operator_main.main()
"""


class ClusterRun:
    """The N ModelDeployments and the operator process on the cluster of $KUBECONFIG."""

    def __init__(self, work: Path, models: int, prometheus_url: str, tick_s: float) -> None:
        from vigia_testbed.operator import (
            OperatorProcess,
            install,
            operator_kubeconfig,
        )

        self.kubeconfig = Path(os.environ["KUBECONFIG"].split(os.pathsep)[0])
        self.models = models
        self.tick_s = tick_s
        self.namespaces = sorted({model_key(i)[0] for i in range(models)})
        install(self.kubeconfig)
        (work / "vigia_bench_operator.py").write_text(OPERATOR_MODULE)
        self.metrics_port = free_port()
        self.operator = OperatorProcess(
            operator_kubeconfig(self.kubeconfig, work / "kubeconfig"), work / "operator.log",
            self.namespaces, module="vigia_bench_operator", env={
                "PYTHONPATH": os.pathsep.join([str(work), os.environ.get("PYTHONPATH", "")]),
                "VIGIA_OPERATOR_PROMETHEUS_URL": prometheus_url,
                "VIGIA_OPERATOR_TICK_SECONDS": str(tick_s),
                "VIGIA_OPERATOR_METRICS_PORT": str(self.metrics_port),
            })

    def kubectl(self, *args: str, input: str | None = None) -> str:
        from vigia_testbed.kube import kubectl

        return kubectl(self.kubeconfig, *args, input=input, timeout=600)

    def create(self) -> None:
        from vigia_testbed.operator import model_deployment

        for namespace in self.namespaces:
            self.kubectl("create", "namespace", namespace)
        items = []
        for i in range(self.models):
            namespace, name = model_key(i)
            body = model_deployment(name, f"s3://models/{name}/v1")
            body["metadata"]["namespace"] = namespace
            # Evaluated on every tick (the CRD's minimum interval is 10 s).
            interval = f"{max(10, round(self.tick_s))}s"
            body["spec"].setdefault("monitoring", {})["interval"] = interval
            items.append(body)
        started = time.monotonic()
        for chunk in range(0, len(items), 250):
            self.kubectl("create", "-f", "-", input=json.dumps(
                {"apiVersion": "v1", "kind": "List", "items": items[chunk:chunk + 250]}))
        print(f"created {self.models} ModelDeployments in {time.monotonic() - started:.0f} s"
              f" (namespaces {self.namespaces[0]}..{self.namespaces[-1]})", flush=True)

    def drifted(self) -> tuple[set[int], dict[str, int]]:
        """Indexes of the ModelDeployments with Drifted=True; counts of Drifted reasons."""
        flagged: set[int] = set()
        reasons: dict[str, int] = {}
        index = {model_key(i): i for i in range(self.models)}
        for namespace in self.namespaces:
            listed = json.loads(self.kubectl("get", "md", "-n", namespace, "-o", "json"))
            for item in listed["items"]:
                found = [c for c in (item.get("status") or {}).get("conditions") or []
                         if c["type"] == "Drifted"]
                reason = found[0]["reason"] if found else "none"
                reasons[reason] = reasons.get(reason, 0) + 1
                if found and found[0]["status"] == "True":
                    flagged.add(index[(namespace, item["metadata"]["name"])])
        return flagged, reasons

    def metrics(self) -> dict[str, float]:
        from prometheus_client.parser import text_string_to_metric_families

        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        text = httpx.get(url, timeout=30).text
        return {sample.name: sample.value + 0.0
                for family in text_string_to_metric_families(text)
                for sample in family.samples if not sample.labels} | {
            "queries": sum(sample.value for family in text_string_to_metric_families(text)
                           for sample in family.samples
                           if sample.name == "vigia_operator_prometheus_queries_total")}

    def ticks(self) -> list[tuple[int, int, int, int, float]]:
        """The operator's tick reports: models, with signals, applies, writes, seconds."""
        return [(int(m[1]), int(m[2]), int(m[3]), int(m[4]), float(m[5]))
                for m in TICK_LINE.finditer(self.operator.log())]

    def delete(self) -> None:
        for namespace in self.namespaces:
            self.kubectl("delete", "namespace", namespace, "--wait=false",
                         "--ignore-not-found")


def measure_operator(run: ClusterRun, ticks: int, expected: set[int]) -> bool:
    """Wait for every ModelDeployment to be judged, then report ``ticks`` operator ticks."""
    deadline = time.monotonic() + 1800
    while True:
        flagged, reasons = run.drifted()
        judged = sum(v for k, v in reasons.items() if k != "none")
        print(f"  Drifted reasons now: {reasons}", flush=True)
        if judged == run.models and "NoData" not in reasons and "StaleData" not in reasons:
            break
        if time.monotonic() > deadline:
            print("  not every ModelDeployment judged in 30 min", flush=True)
            break
        time.sleep(20)
    before, seen = run.metrics(), len(run.ticks())
    while len(run.ticks()) < seen + ticks:
        time.sleep(2)
    after, reports = run.metrics(), run.ticks()[seen:seen + ticks]
    count = after["vigia_operator_tick_duration_seconds_count"] - \
        before["vigia_operator_tick_duration_seconds_count"]
    collect = after["vigia_operator_tick_duration_seconds_sum"] - \
        before["vigia_operator_tick_duration_seconds_sum"]
    flagged, reasons = run.drifted()
    rss = run.operator.rss_bytes() / 2**20
    for report in reports:
        models, with_signals, applied, written, seconds = report
        print(f"operator tick: {seconds:.2f} s for {models} models ({with_signals} with"
              f" signals, {applied} applies, {written} status writes)", flush=True)
    print(f"operator: {(after['queries'] - before['queries']) / max(count, 1):.1f} queries"
          f" per tick, collection {collect / max(count, 1):.2f} s per tick on average over"
          f" {count:.0f} ticks; RSS {rss:.0f} MiB; Drifted reasons {reasons}; flagged"
          f" {len(flagged)}/{len(expected)} drifted (exact: {flagged == expected})", flush=True)
    if flagged != expected:
        print(f"  missed {sorted(expected - flagged)[:10]} ({len(expected - flagged)}),"
              f" extra {sorted(flagged - expected)[:10]} ({len(flagged - expected)})")
    return flagged == expected


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--features", type=int, default=10)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--ticks", type=int, default=3)
    parser.add_argument("--window", default="1h")
    parser.add_argument("--operator", action="store_true",
                        help="run the operator on the cluster of $KUBECONFIG too")
    parser.add_argument("--tick", type=float, default=30.0, help="the operator's tick, s")
    parser.add_argument("--prefix", default="", help=argparse.SUPPRESS)
    parser.add_argument("--exporter", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    PREFIX[0] = args.prefix or (f"bench-mon-{os.getpid()}" if args.operator else "ns")
    if args.exporter:
        run_exporter(args.exporter, args.models, args.features)
        return
    work = Path(tempfile.mkdtemp(prefix="vigia-bench-monitoring-"))
    port = free_port()
    exporter = subprocess.Popen([sys.executable, __file__, "--exporter", str(port),
                                 "--models", str(args.models), "--features", str(args.features),
                                 "--prefix", PREFIX[0]])
    rule_file = ROOT / "manifests" / "prometheus" / "vigia-rules.yaml"
    prometheus = PrometheusServer(work, scrape_interval="15s", evaluation_interval="15s",
                                  rule_files=(rule_file,),
                                  extra_args=("--storage.tsdb.retention.time=2h",))
    print(f"load average at start: {os.getloadavg()}", flush=True)
    run: ClusterRun | None = None
    try:
        prometheus.start()
        prometheus.set_targets([Target(f"127.0.0.1:{port}")])
        print(f"data for {args.minutes} min (Prometheus in {work}) ...", flush=True)
        data_until = time.monotonic() + args.minutes * 60
        if args.operator:
            run = ClusterRun(work, args.models, prometheus.url, args.tick)
            run.create()
            run.operator.start(timeout=300)
        time.sleep(max(0.0, data_until - time.monotonic()))
        # The rules must have run once over the data (their first run can take minutes).
        prometheus.wait_for("vigia:feature_psi:1h", timeout=600)
        expected = {i for i in range(args.models) if is_drifted(i)}
        exact = False
        if run is not None:
            exact = measure_operator(run, args.ticks, expected)
        for n in range(0 if run is not None else args.ticks):
            result = tick(prometheus.url, args.models, args.window)
            flagged = result.pop("flagged")
            assert isinstance(flagged, set)
            rss = psutil.Process().memory_info().rss / 2**20
            print(f"tick {n + 1}: {result['seconds']:.2f} s (queries {result['query_seconds']:.2f}"
                  f" s, evaluation {result['evaluate_seconds']:.2f} s), {result['queries']}"
                  f" queries, {result['errors']} errors, flagged {len(flagged)}/"
                  f"{len(expected)} drifted (exact: {flagged == expected}), RSS {rss:.0f} MiB",
                  flush=True)
            print(f"  Drifted reasons: {result['drifted_reasons']}; per signal (s):"
                  f" {result['per_signal']}; unavailable: {result['unavailable']}")
            print(f"  e.g. {result['examples']}")
            exact = flagged == expected
            if not exact:
                print(f"  missed {sorted(expected - flagged)[:10]} ({len(expected - flagged)}),"
                      f" extra {sorted(flagged - expected)[:10]} ({len(flagged - expected)})")
        groups = httpx.get(f"{prometheus.url}/api/v1/rules", timeout=30).json()["data"]["groups"]
        for group in groups:
            print(f"rule group {group['name']}: last evaluation {group['evaluationTime']:.2f} s"
                  f" every {group['interval']:.0f} s ({len(group['rules'])} rules)")
        scrape = prometheus.query("scrape_duration_seconds")
        print(f"scrape of the exporter: {float(scrape[0]['value'][1]):.2f} s" if scrape
              else "scrape of the exporter: no sample")
        assert prometheus.process is not None
        prom = psutil.Process(prometheus.process.pid)
        print(f"Prometheus: {prometheus.series_count()} series, RSS "
              f"{prom.memory_info().rss / 2**20:.0f} MiB; {args.models} models x {args.features}"
              f" features, window {args.window}, scrape 15 s, {args.minutes} min of data")
        print(f"load average (1, 5, 15 min): {os.getloadavg()}; {os.cpu_count()} cores")
        if not exact:
            raise SystemExit("the last tick did not flag exactly the drifted models")
    finally:
        if run is not None:
            run.operator.stop()
            run.delete()
        prometheus.stop()
        exporter.terminate()
        exporter.wait(30)
        if os.environ.get("VIGIA_BENCH_KEEP") is None:
            import shutil

            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
