"""Autoscaling on the real node (issue 29): a ModelDeployment with a CPU target scales a
real model server from 1 to at least 2 Ready replicas under a load this test generates, and
back to minReplicas after the load stops (scale-down stabilisation shortened to 30 s with
spec.serving.autoscaling.scaleDownStabilizationSeconds). The operator keeps every count the
autoscaler sets (no Restored Event) and reports the autoscaler in status.

It runs after the Helm tests (file order): its platform is the kustomize install, as the
serving tests', and the chart cannot take over that operator Deployment's selector.

The resource metrics API is metrics-server, built from its Go module and installed by the
`metrics_api` fixture (tests/e2e/conftest.py, vigia_testbed.metrics_server)."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from vigia_operator.core import reasons
from vigia_testbed import autoscaling as a
from vigia_testbed import realnode as p
from vigia_testbed.kube import kubectl, wait_for
from vigia_testbed.pods import apply, wait_ready

pytestmark = pytest.mark.e2e

MODEL = "scaled"
CLIENT = "load"
LOAD_SECONDS = 300  # the longest the load runs; stopped once a second replica is Ready
SCALE_DOWN_TIMEOUT_S = 600


@pytest.fixture(scope="module")
def platform(kubeconfig: Path, metrics_api: None) -> Iterator[p.Platform]:
    p.install(kubeconfig)
    namespace = p.restricted_namespace(kubeconfig)
    apply(kubeconfig, a.autoscaled(MODEL), namespace=namespace)
    ready = p.wait_model_ready(kubeconfig, namespace, MODEL)
    apply(kubeconfig, a.client_pod(CLIENT), namespace=namespace)
    wait_ready(kubeconfig, namespace, f"pod/{CLIENT}")
    try:
        yield p.Platform(kubeconfig, namespace, {"apply_to_ready": ready})
    finally:
        kubectl(kubeconfig, "delete", "namespace", namespace, "--wait=false")


def _get(platform: p.Platform, *args: str) -> Any:
    return json.loads(kubectl(platform.kubeconfig, "-n", platform.namespace, "get", *args,
                              "-o", "json"))


def _ready(platform: p.Platform) -> int:
    return a.ready_replicas(platform.kubeconfig, platform.namespace, MODEL)


def _stop_load(platform: p.Platform, load: subprocess.Popen[str]) -> None:
    # The pod's python is stopped with it: the exec session ends, then the pod is replaced.
    load.terminate()
    load.wait(30)
    kubectl(platform.kubeconfig, "-n", platform.namespace, "delete", "pod", CLIENT,
            "--wait=true", "--grace-period=0")


def test_a_cpu_target_scales_a_real_server_up_under_load_and_back_down(
        platform: p.Platform) -> None:
    hpa = _get(platform, "hpa", f"{MODEL}-stable")
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (
        a.MIN_REPLICAS, a.MAX_REPLICAS)
    a.wait_scaling_active(platform.kubeconfig, platform.namespace, MODEL)
    a.wait_settled(platform.kubeconfig, platform.namespace, MODEL, a.MIN_REPLICAS)

    url = a.service_url(platform.kubeconfig, platform.namespace, MODEL)
    began = time.monotonic()
    load = a.start_load(platform.kubeconfig, platform.namespace, CLIENT, url, LOAD_SECONDS)
    try:
        wait_for(lambda: _ready(platform) >= 2, LOAD_SECONDS, "a second Ready replica")
        scaled_up = time.monotonic() - began
    finally:
        _stop_load(platform, load)
    status = _get(platform, "md", MODEL)["status"]["serving"]
    assert status["autoscaling"]["desiredReplicas"] >= 2
    print(f"\nfigure: load start to the second replica Ready: {scaled_up:.0f}s")

    stopped = time.monotonic()
    wait_for(lambda: a.desired_replicas(platform.kubeconfig, platform.namespace, MODEL)
             == a.MIN_REPLICAS, SCALE_DOWN_TIMEOUT_S, f"back to {a.MIN_REPLICAS} replica(s)",
             interval=2)
    print(f"figure: load stop to minReplicas ({a.MIN_REPLICAS}): "
          f"{time.monotonic() - stopped:.0f}s (scale-down stabilisation {a.SCALE_DOWN_S}s)")

    events = _get(platform, "events", "--field-selector",
                  f"involvedObject.kind=ModelDeployment,involvedObject.name={MODEL}")["items"]
    found = [e["reason"] for e in events]
    assert reasons.RESTORED not in found, found
    assert reasons.AUTOSCALER_CONDITION in found
