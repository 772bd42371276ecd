"""Canary benchmark: time from a version change to promotion, from a bad canary to its
rollback, and the achieved weights against the requested ones.

    python3 benchmarks/canary.py [--keep]

The scenario of tests/integration/rollout with the sample's steps scaled down (25% then
50%, 10 s pauses, 10 s analyses, failureLimit 2): the operator on the local control plane
(kwok nodes) under its own RBAC, a real Prometheus scraping real model-server processes
labelled stable and canary, a client sending 40 single-row predictions per second with
feedback, split by the canary's achieved weight. Uses $KUBECONFIG when set, else a local
cluster named "canary-bench". Prints figures and the load average; asserts nothing.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

# Run as a script: this checkout's code (vigia_testbed.checkout).
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools" / "testbed"))
importlib.import_module("vigia_testbed.checkout").use_this_checkout()

from vigia_operator.decide.rollout.traffic import achieved_weight, canary_replicas  # noqa: E402
from vigia_testbed.fleet import (  # noqa: E402
    Fleet,
    apply_md,
    client_for,
    export_version,
    stable_v1,
    status_of,
)
from vigia_testbed.kube import kubectl  # noqa: E402
from vigia_testbed.operator import (  # noqa: E402
    OperatorProcess,
    install,
    operator_kubeconfig,
)
from vigia_testbed.prometheus import PrometheusServer  # noqa: E402

CLUSTER = "canary-bench"


def timed_rollout(kubeconfig: Path, namespace: str, fleet: Fleet, bundles: dict[str, str],
                  version: str, timeout: float = 600) -> dict[str, Any]:
    """Apply ``version`` as the new model; follow status until it is promoted or rolled
    back. Returns the times (s after the apply) of each change and the weights seen."""
    stable_v1(kubeconfig, namespace, fleet, bundles)
    fleet.serve("canary", version, bundles[version])
    client = client_for(fleet, kubeconfig, namespace)
    seen: dict[str, float] = {}
    weights: set[tuple[int, int]] = set()
    try:
        start = time.monotonic()
        apply_md(kubeconfig, namespace, bundles[version], version)
        while time.monotonic() - start < timeout:
            status = status_of(kubeconfig, namespace)
            canary = status.get("canary") or {}
            at = time.monotonic() - start
            key = f"{canary.get('phase')} step {canary.get('step')}" if canary else None
            if key and key not in seen:
                seen[key] = at
            if canary.get("phase") == "Progressing" and canary.get("stepStartedAt"):
                weights.add((canary["weight"], canary["achievedWeight"]))
            ended = (status.get("history") or [{}])[0]
            if ended.get("version") == version:
                seen[str(ended.get("outcome"))] = at
                break
            time.sleep(0.5)
    finally:
        client.stop()
    return {"times": seen, "weights": sorted(weights), "sent": dict(client.sent)}


def pure_weights() -> None:
    print("Requested weight -> canary pods beside the stable, achieved weight (Replicas):")
    for replicas in (1, 2, 4, 10):
        row = []
        for weight in (10, 25, 50, 75):
            pods = canary_replicas(weight, replicas, "Replicas")
            stable = max(1, replicas - pods)
            row.append(f"{weight}% -> {pods}+{stable} = "
                       f"{achieved_weight('Replicas', weight, pods, stable)}%")
        print(f"  replicas {replicas:>2}: " + "; ".join(row))


def scenario(kubeconfig: Path, config: Path, work: Path, bundles: dict[str, str],
             version: str) -> dict[str, Any]:
    namespace = f"bench-canary-{uuid.uuid4().hex[:6]}"
    kubectl(kubeconfig, "create", "namespace", namespace)
    prometheus = PrometheusServer(work / f"prometheus-{version}").start()
    operator = OperatorProcess(config, work / f"operator-{version}.log", [namespace], env={
        "VIGIA_OPERATOR_PROMETHEUS_URL": prometheus.url, "VIGIA_OPERATOR_TICK_SECONDS": "1"})
    fleet = Fleet(work / f"servers-{version}", prometheus, namespace, "sobaos")
    try:
        operator.start()
        return timed_rollout(kubeconfig, namespace, fleet, bundles, version)
    finally:
        fleet.stop()
        operator.stop()
        prometheus.stop()
        kubectl(kubeconfig, "delete", "namespace", namespace, "--wait=false")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="leave a started cluster up")
    args = parser.parse_args()
    pure_weights()
    external = os.environ.get("KUBECONFIG")
    started = False
    if external:
        kubeconfig = Path(external.split(os.pathsep)[0])
    else:
        import vigia_devcluster

        up = vigia_devcluster.up(CLUSTER)
        kubeconfig, started = up.kubeconfig, up.started
    try:
        install(kubeconfig)
        with tempfile.TemporaryDirectory(prefix="vigia-canary-bench-") as tmp:
            work = Path(tmp)
            bundles = {"v1": export_version(work, "v1", seed=1),
                       "v2": export_version(work, "v2", seed=2),
                       "bad": export_version(work, "bad", seed=3, wrong_labels=True)}
            config = operator_kubeconfig(kubeconfig, work / "kubeconfig")
            for version, what in (("v2", "good canary"), ("bad", "bad canary")):
                result = scenario(kubeconfig, config, work, bundles, version)
                times = ", ".join(f"{k} at {v:.1f} s" for k, v in result["times"].items())
                print(f"{what} ({version}): {times}")
                print(f"  (requested, achieved) weights while analysed: {result['weights']}; "
                      f"requests sent {result['sent']}")
    finally:
        if started and not args.keep:
            import vigia_devcluster

            vigia_devcluster.down(CLUSTER)
    load = os.getloadavg()
    print(f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
