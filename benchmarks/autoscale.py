"""Real-node benchmark of autoscaling (issue 29): how fast a CPU target adds a replica under
load, what the load's latency is meanwhile, and how fast the fleet comes back down.

    python3 benchmarks/autoscale.py [--load-seconds 240] [--keep]

Starts a local cluster "bench-autoscale" with the real node, imports the e2e images and
metrics-server's (built from its Go module), installs Vigía from its manifests and
metrics-server (vigia_testbed.metrics_server), then, with one load (vigia_testbed.autoscaling:
8 threads posting 200 rows to /predict from a client pod) of --load-seconds each:

1. an autoscaled ModelDeployment (1 to 3 replicas, CPU 50% of 100m, scale-down stabilisation
   30 s): time from the load's start to the second Ready replica, p50/p99 latency of the
   requests answered before that moment (the scale-up) and after it, and, once the load has
   run its course, the time back to minReplicas;
2. the same model at a fixed 2 replicas: p50/p99 latency over the whole load.

Needs root. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools" / "testbed"))
importlib.import_module("vigia_testbed.checkout").use_this_checkout()

import vigia_devcluster  # noqa: E402
from vigia_testbed import autoscaling as a  # noqa: E402
from vigia_testbed import metrics_server  # noqa: E402
from vigia_testbed import realnode as platform  # noqa: E402
from vigia_testbed.kube import kubectl, wait_for  # noqa: E402
from vigia_testbed.pods import E2E_IMAGES, apply, wait_ready  # noqa: E402

NAME = "bench-autoscale"
AUTOSCALED = "scaled"
FIXED = "fixed"
CLIENT = "load"
SCALE_DOWN_TIMEOUT_S = 900


def percentiles(latencies: list[float]) -> str:
    if len(latencies) < 2:
        return f"{len(latencies)} requests (too few for percentiles)"
    cuts = statistics.quantiles(latencies, n=100)
    return (f"p50 {cuts[49] * 1000:.0f} ms, p99 {cuts[98] * 1000:.0f} ms "
            f"({len(latencies)} requests)")


def deploy(kube: Path, namespace: str, md: dict[str, Any]) -> None:
    apply(kube, md, namespace=namespace)
    platform.wait_model_ready(kube, namespace, md["metadata"]["name"])


def run_load(kube: Path, namespace: str, model: str, seconds: float,
             watch: Any = None) -> dict[str, Any]:
    """The load against ``model`` for ``seconds``; ``watch()`` is polled meanwhile and its
    first truthy answer's wall-clock time is returned as "seen"."""
    url = a.service_url(kube, namespace, model)
    began = time.time()
    load = a.start_load(kube, namespace, CLIENT, url, seconds)
    seen = None
    while load.poll() is None and watch is not None and seen is None:
        if watch():
            seen = time.time()
        time.sleep(1)
    result = a.load_result(load, seconds + 120)
    return {**result, "began": began, "seen": seen}


def autoscaled_figures(kube: Path, namespace: str, seconds: float) -> None:
    deploy(kube, namespace, a.autoscaled(AUTOSCALED))
    a.wait_scaling_active(kube, namespace, AUTOSCALED)
    a.wait_settled(kube, namespace, AUTOSCALED, a.MIN_REPLICAS)
    result = run_load(kube, namespace, AUTOSCALED, seconds,
                      watch=lambda: a.ready_replicas(kube, namespace, AUTOSCALED) >= 2)
    print(f"autoscaled: {result['answered']} answered, {result['failed']} failed")
    latencies = result["latencies"]
    if result["seen"] is None:
        print(f"autoscaled: no second Ready replica within the {seconds:.0f}s load")
        print(f"autoscaled, whole load: {percentiles([s for _, s in latencies])}")
        return
    print(f"load start to the second replica Ready: {result['seen'] - result['began']:.1f}s")
    before = [s for end, s in latencies if end <= result["seen"]]
    after = [s for end, s in latencies if end > result["seen"]]
    print(f"autoscaled, during the scale-up (load start to 2 Ready): {percentiles(before)}")
    print(f"autoscaled, after it (to the load's end): {percentiles(after)}")
    print(f"autoscaled, Ready replicas: "
          f"{a.ready_replicas(kube, namespace, AUTOSCALED)} at the load's end")
    stopped = time.monotonic()
    wait_for(lambda: a.desired_replicas(kube, namespace, AUTOSCALED) == a.MIN_REPLICAS,
             SCALE_DOWN_TIMEOUT_S, f"{AUTOSCALED} back to {a.MIN_REPLICAS}", interval=2)
    print(f"load end to minReplicas ({a.MIN_REPLICAS}): {time.monotonic() - stopped:.1f}s "
          f"(scale-down stabilisation {a.SCALE_DOWN_S}s)")
    kubectl(kube, "-n", namespace, "delete", "modeldeployment", AUTOSCALED, "--wait=true",
            "--timeout=300s", timeout=320)


def fixed_figures(kube: Path, namespace: str, seconds: float) -> None:
    deploy(kube, namespace, a.fixed(FIXED, 2))
    a.wait_settled(kube, namespace, FIXED, 2)
    result = run_load(kube, namespace, FIXED, seconds)
    print(f"fixed 2 replicas: {result['answered']} answered, {result['failed']} failed")
    print(f"fixed 2 replicas, whole load: {percentiles([s for _, s in result['latencies']])}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--load-seconds", type=float, default=240.0)
    parser.add_argument("--keep", action="store_true", help="leave the cluster running")
    args = parser.parse_args()
    vigia_devcluster.down(NAME)
    vigia_devcluster.up(NAME, nodes=0, real_node=True, timeout=600)
    kube = Path(str(vigia_devcluster.status(NAME)["kubeconfig"]))
    try:
        vigia_devcluster.load_images(NAME, E2E_IMAGES)
        began = time.monotonic()
        metrics_server.provide_on_local_cluster(kube, NAME)
        print(f"metrics-server built, imported, Available: {time.monotonic() - began:.1f}s")
        platform.install(kube)
        namespace = platform.restricted_namespace(kube)
        apply(kube, a.client_pod(CLIENT), namespace=namespace)
        wait_ready(kube, namespace, f"pod/{CLIENT}")
        autoscaled_figures(kube, namespace, args.load_seconds)
        fixed_figures(kube, namespace, args.load_seconds)
    finally:
        if not args.keep:
            vigia_devcluster.down(NAME)
    return 0


if __name__ == "__main__":
    sys.exit(main())
