"""Operator benchmark: apply-to-Ready latency of ModelDeployments, operator memory and
API calls.

    python3 benchmarks/operator.py [--counts 1,200,1000] [--tick 20] [--replicas 3 --shards 12]
                                   [--keep]

Uses $KUBECONFIG when set, else starts (or reuses) a local cluster named "bench" with
enough fake nodes for the pods. The operator runs as in the integration tests: a separate
process, authenticated as its ServiceAccount under the shipped RBAC; a fresh one for each
count, so its RSS is that of N objects. For each count N, N ModelDeployments are created at
once (8 client threads) in a fresh namespace; a watch records when each one's Ready
condition turns True. Latency = Ready time - time its create returned. API calls are the
operator's own requests (its `apiCalls` probe on /healthz), per object while converging,
then over two idle ticks (a reconcile without drift should make none). With --replicas R
(and --shards N), R operator processes share the objects by shards (VIGIA_OPERATOR_SHARDS):
API calls are summed over them and RSS is given per replica.
Prints figures and the load average; asserts nothing.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import kubernetes

ROOT = Path(__file__).resolve().parents[1]
# Run as a script: this checkout's code (vigia_testbed.checkout).
sys.path.insert(0, str(ROOT / "tools" / "testbed"))
importlib.import_module("vigia_testbed.checkout").use_this_checkout()

from vigia_devcluster.binaries import kubectl_path  # noqa: E402
from vigia_testbed.kube import kubectl, wait_for  # noqa: E402
from vigia_testbed.operator import (  # noqa: E402
    OperatorProcess,
    install,
    model_deployment,
    operator_kubeconfig,
)

BENCH_CLUSTER = "bench"
PODS_PER_NODE = 110
PROBE_CACHE_S = 11.0
SHARED_AFTER_S = 25.0  # a lease period and a renewal: the shards shared out


class Watch:
    """`kubectl get KIND --watch`, noting the first time each object matches ``seen``."""

    def __init__(self, kubeconfig: Path, namespace: str, kind: str,
                 seen: Callable[[dict[str, Any]], bool]) -> None:
        self.at: dict[str, float] = {}
        self._seen = seen
        self._process = subprocess.Popen(
            [str(kubectl_path()), f"--kubeconfig={kubeconfig}", "get", kind, "-n", namespace,
             "--watch", "--output-watch-events", "-o", "json"],
            stdout=subprocess.PIPE, text=True,
        )
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self._process.stdout is not None
        decoder = json.JSONDecoder()
        buffer = ""
        for line in self._process.stdout:
            buffer += line
            try:
                event, end = decoder.raw_decode(buffer.lstrip())
            except ValueError:
                continue
            buffer = buffer.lstrip()[end:]
            obj = event.get("object") or {}
            name = obj.get("metadata", {}).get("name")
            if name and name not in self.at and self._seen(obj):
                self.at[name] = time.monotonic()

    def stop(self) -> None:
        self._process.terminate()
        self._process.wait(timeout=10)


def is_ready(obj: dict[str, Any]) -> bool:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def admin_client(kubeconfig: Path) -> Any:
    api = kubernetes.config.new_client_from_config(config_file=str(kubeconfig))
    return kubernetes.client.CustomObjectsApi(api)


def phases(kubeconfig: Path, namespace: str) -> dict[str, int]:
    items = json.loads(kubectl(kubeconfig, "get", "md", "-n", namespace, "-o", "json"))["items"]
    counts: dict[str, int] = {}
    for item in items:
        phase = (item.get("status") or {}).get("phase", "none")
        counts[phase] = counts.get(phase, 0) + 1
    return counts


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def probes(operators: list[OperatorProcess]) -> dict[str, Any]:
    """The replicas' apiCalls and apiCallsBy, summed."""
    calls = 0
    by: dict[str, int] = {}
    for operator in operators:
        found = operator.probes()
        calls += found["apiCalls"]
        for kind, n in (found.get("apiCallsBy") or {}).items():
            by[kind] = by.get(kind, 0) + n
    return {"apiCalls": calls, "apiCallsBy": by}


def run_batch(kubeconfig: Path, operators: list[OperatorProcess], count: int,
              tick: float) -> dict[str, Any]:
    namespace = f"bench-{count}-{uuid.uuid4().hex[:5]}"
    kubectl(kubeconfig, "create", "namespace", namespace)
    wait_for(lambda: kubectl(kubeconfig, "get", "serviceaccount", "default", "-n", namespace),
             60, "default ServiceAccount")
    watch = Watch(kubeconfig, namespace, "md", is_ready)
    # The operator's own share: until the model server's Deployment exists.
    created = Watch(kubeconfig, namespace, "deployments", lambda obj: True)
    time.sleep(1)  # let the watch start
    names = [f"md-{i:04d}" for i in range(count)]
    client = admin_client(kubeconfig)
    applied_at: dict[str, float] = {}

    def create(name: str) -> None:
        obj = model_deployment(name, f"s3://models/{name}/v1")
        client.create_namespaced_custom_object("vigia.dev", "v1alpha1", namespace,
                                               "modeldeployments", obj)
        applied_at[name] = time.monotonic()

    calls_before = probes(operators)["apiCalls"]

    # All at once, from a few client threads; each latency starts when its create returned.
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(create, names))
    try:
        wait_for(lambda: len(watch.at) == count, 60 + count * 1.5,
                 f"{count} ModelDeployments Ready")
    except AssertionError:
        print(f"  only {len(watch.at)}/{count} reached Ready; phases now: "
              f"{phases(kubeconfig, namespace)}", flush=True)
    rss = max(operator.rss_bytes() for operator in operators)
    time.sleep(PROBE_CACHE_S)  # the last status writes and Events; kopf caches probes 10 s
    converged = probes(operators)
    calls_converging = converged["apiCalls"] - calls_before
    time.sleep(max(2 * tick + 1, PROBE_CACHE_S))  # two ticks over every object
    idle = probes(operators)
    calls_idle = idle["apiCalls"] - calls_before - calls_converging
    by_before = converged.get("apiCallsBy") or {}
    idle_by = {k: v - by_before.get(k, 0) for k, v in (idle.get("apiCallsBy") or {}).items()
               if v != by_before.get(k, 0)}
    watch.stop()
    created.stop()
    to_children = [created.at[f"{n}-stable"] - applied_at[n] for n in names
                   if f"{n}-stable" in created.at]
    if not watch.at:
        kubectl(kubeconfig, "delete", "namespace", namespace, "--wait=false")
        raise RuntimeError(f"none became Ready (operator RSS {rss / 2**20:.1f} MiB, "
                           f"{calls_converging} API calls)")
    names = [n for n in names if n in watch.at]
    latencies = [watch.at[n] - applied_at[n] for n in names]
    total = max(watch.at.values()) - min(applied_at.values())
    kubectl(kubeconfig, "delete", "namespace", namespace, "--wait=false")
    return {
        "count": len(names),
        "p50_s": statistics.median(latencies),
        "p95_s": percentile(latencies, 0.95),
        "max_s": max(latencies),
        "all_ready_s": total,
        "operator_rss_mib": rss / 2**20,
        "children_p50_s": statistics.median(to_children),
        "children_p95_s": percentile(to_children, 0.95),
        "calls_per_object": calls_converging / count,
        "calls_idle": calls_idle,
        "idle_by": idle_by,
        "idle_s": 2 * tick + 1,
    }


def bench_one(config: Path, log: Path, kubeconfig: Path, count: int, tick: float,
              replicas: int, shards: int) -> None:
    env = {"VIGIA_OPERATOR_TICK_SECONDS": str(tick)}
    if replicas > 1:
        env["VIGIA_OPERATOR_SHARDS"] = str(shards)
    operators = [OperatorProcess(config, log.with_suffix(f".{n}.log"),
                                 env={**env, "VIGIA_OPERATOR_IDENTITY": f"bench-{n}"})
                 for n in range(replicas)]
    try:
        for operator in operators:
            operator.start()
        if replicas > 1:
            time.sleep(SHARED_AFTER_S)  # the first replica's extra shards expire
        idle = max(operator.rss_bytes() for operator in operators) / 2**20
        result = run_batch(kubeconfig, operators, count, tick)
    finally:
        for operator in operators:
            operator.stop()
    load = os.getloadavg()
    shared = f" ({replicas} replicas, {shards} shards; RSS per replica)" if replicas > 1 else ""
    print(
        f"{result['count']:>4} ModelDeployments{shared}: apply-to-Ready "
        f"p50 {result['p50_s']:.2f} s, p95 {result['p95_s']:.2f} s, "
        f"max {result['max_s']:.2f} s; all Ready after {result['all_ready_s']:.1f} s; "
        f"operator RSS {result['operator_rss_mib']:.1f} MiB (idle {idle:.1f}); "
        f"create-to-Deployment (the operator's share) p50 {result['children_p50_s']:.2f} s, "
        f"p95 {result['children_p95_s']:.2f} s; API calls per object "
        f"{result['calls_per_object']:.1f}, then {result['calls_idle']:.0f} in "
        f"{result['idle_s']:.0f} s idle {result['idle_by'] or ''}; "
        f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}",
        flush=True,
    )


def cluster(max_count: int) -> tuple[Path, bool]:
    external = os.environ.get("KUBECONFIG")
    if external:
        return Path(external.split(os.pathsep)[0]), False
    import vigia_devcluster

    nodes = max(2, -(-(max_count + 20) // PODS_PER_NODE))
    started = vigia_devcluster.up(BENCH_CLUSTER, nodes=nodes)
    return started.kubeconfig, started.started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="1,200,1000", help="batch sizes, comma-separated")
    parser.add_argument("--tick", type=float, default=20.0, help="the operator's tick, seconds")
    parser.add_argument("--replicas", type=int, default=1, help="operator processes")
    parser.add_argument("--shards", type=int, default=12, help="shards, with --replicas > 1")
    parser.add_argument("--keep", action="store_true", help="leave a started cluster up")
    args = parser.parse_args()
    counts = [int(c) for c in args.counts.split(",")]
    kubeconfig, started = cluster(max(counts))
    try:
        install(kubeconfig)
        with tempfile.TemporaryDirectory(prefix="vigia-bench-") as tmp:
            config = operator_kubeconfig(kubeconfig, Path(tmp) / "kubeconfig")
            for count in counts:
                bench_one(config, Path(tmp) / f"operator-{count}.log", kubeconfig, count,
                          args.tick, args.replicas, args.shards)
    finally:
        if started and not args.keep:
            import vigia_devcluster

            vigia_devcluster.down(BENCH_CLUSTER)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
