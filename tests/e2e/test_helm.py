"""Helm on the real node, as users upgrade and uninstall Vigía: `helm upgrade` from the
previous release's chart to this one while a model serves keep-alive traffic fails no
request, and `helm uninstall` keeps the CRD and every ModelDeployment, and says so.

The previous release is the chart at ``PREVIOUS_RELEASE``, packaged in tests/fixtures/charts,
with today's image: the machines that test Vigía build their images and pull none.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from vigia_devcluster.binaries import kubectl_path
from vigia_devcluster.helm import helm
from vigia_loop import platform as loop
from vigia_testbed import realnode as p
from vigia_testbed.kube import kubectl
from vigia_testbed.pods import IMAGES, apply, tool_pod, wait_ready

pytestmark = pytest.mark.e2e

MODEL = "sobaos"
CLIENT = "client"
PREVIOUS_RELEASE = "beda4bf"  # the last commit of session 9, the chart users have today
PREVIOUS_CHART = p.ROOT / f"tests/fixtures/charts/vigia-0.1.0-{PREVIOUS_RELEASE}.tgz"
CRD = "modeldeployments.vigia.dev"
STOP = "/tmp/stop"
# Runs in the client pod: one keep-alive connection to the model's Service, one prediction
# every 50 ms until STOP exists; a failed request reconnects and is counted with its cause.
TRAFFIC = """
import http.client, json, os, sys, time
host, stop = sys.argv[1], sys.argv[2]
row = {"rows": [json.loads(sys.argv[3])]}
body = json.dumps(row)
def connect():
    return http.client.HTTPConnection(host, timeout=10)
conn, ok, failed, causes = connect(), 0, 0, []
while not os.path.exists(stop):
    try:
        conn.request("POST", "/predict", body, {"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        if response.status == 200:
            ok += 1
        else:
            failed += 1
            causes.append(response.status)
    except Exception as error:
        failed += 1
        causes.append(repr(error))
        conn.close()
        conn = connect()
    time.sleep(0.05)
print(json.dumps({"ok": ok, "failed": failed, "causes": causes[:10]}))
"""


@pytest.fixture(scope="module")
def served(kubeconfig: Path) -> Iterator[str]:
    """The chart installed, one model serving in its namespace, and a client pod beside it."""
    loop.install_with_helm(kubeconfig)
    namespace = p.restricted_namespace(kubeconfig)
    apply(kubeconfig, p.model_deployment(MODEL, p.SAMPLE_URI), namespace=namespace)
    client = tool_pod(CLIENT, image=IMAGES["vigia"])
    client["spec"]["containers"][0]["command"] = ["sleep", "infinity"]
    apply(kubeconfig, client, namespace=namespace)
    p.wait_model_ready(kubeconfig, namespace, MODEL)
    wait_ready(kubeconfig, namespace, f"pod/{CLIENT}")
    try:
        yield namespace
    finally:
        kubectl(kubeconfig, "delete", "namespace", namespace, "--wait=false")


def _upgrade(kubeconfig: Path, chart: Path) -> str:
    values = {**loop.HELM_VALUES, "operator.tickSeconds": "10"}
    # --take-ownership: the previous chart's CRD was in crds/, unowned; this one's is a
    # template the release owns (and keeps on uninstall): docs/install.md.
    return helm(kubeconfig, "upgrade", loop.RELEASE, str(chart), f"--namespace={loop.SYSTEM}",
                "--take-ownership", "--wait", "--timeout=5m",
                *(f"--set={k}={v}" for k, v in values.items()))


def _sample_row(kubeconfig: Path, namespace: str) -> str:
    out = kubectl(kubeconfig, "-n", namespace, "exec", CLIENT, "--", "vigia", "sample",
                  "traffic", "--out", "-", "--rows", "1", "--seed", "1")
    return out.strip().splitlines()[0]


def _reconciled_by_the_new_operator(kubeconfig: Path, namespace: str) -> None:
    """A spec change the upgraded operator must act on (the model's children re-applied by
    it, under traffic): its status reaches the new generation."""
    kubectl(kubeconfig, "-n", namespace, "patch", "modeldeployment", MODEL, "--type=merge",
            "-p", json.dumps({"spec": {"monitoring": {"interval": "45s"}}}))
    generation = json.loads(kubectl(kubeconfig, "-n", namespace, "get", "modeldeployment",
                                    MODEL, "-o", "json"))["metadata"]["generation"]
    loop.until(lambda: json.loads(kubectl(
        kubeconfig, "-n", namespace, "get", "modeldeployment", MODEL, "-o", "json"))
        .get("status", {}).get("observedGeneration") == generation,
        120, f"the upgraded operator's status for generation {generation}")


def _service_address(kubeconfig: Path, namespace: str) -> str:
    services = json.loads(kubectl(kubeconfig, "-n", namespace, "get", "services", "-l",
                                  f"app.kubernetes.io/instance={MODEL}", "-o", "json"))
    service = services["items"][0]
    return (f"{service['metadata']['name']}.{namespace}.svc.cluster.local:"
            f"{service['spec']['ports'][0]['port']}")


def _revision(kubeconfig: Path) -> int:
    history = json.loads(helm(kubeconfig, "history", loop.RELEASE,
                              f"--namespace={loop.SYSTEM}", "-o", "json"))
    return int(history[-1]["revision"])


def _scrape_pools(kubeconfig: Path) -> dict[str, list[str]]:
    answer = json.loads(kubectl(kubeconfig, "get", "--raw",
                                f"{loop.PROMETHEUS_PROXY}/api/v1/targets?state=active"))
    pools: dict[str, list[str]] = {}
    for target in answer["data"]["activeTargets"]:
        pools.setdefault(target["scrapePool"], []).append(target["health"])
    return pools


def test_the_charts_monitors_and_rules_are_the_operators_prometheus_configuration(
        kubeconfig: Path, served: str) -> None:
    """The Prometheus Operator turned the chart's PodMonitor, ServiceMonitor and
    PrometheusRule into its Prometheus's scrape jobs and rules, and the targets are up."""
    wanted = {f"podMonitor/{loop.SYSTEM}/vigia-model-servers/0",
              f"serviceMonitor/{loop.SYSTEM}/{loop.OPERATOR}/0"}

    def up() -> dict[str, list[str]] | None:
        pools = _scrape_pools(kubeconfig)
        healthy = {pool for pool in wanted if "up" in pools.get(pool, [])}
        return pools if healthy == wanted else None

    pools = loop.until(up, 180, f"{sorted(wanted)} scraped", interval=3)
    print(f"\nfigure: the Operator's Prometheus scrape pools: {sorted(pools)}")
    groups = json.loads(kubectl(kubeconfig, "get", "--raw",
                                f"{loop.PROMETHEUS_PROXY}/api/v1/rules"))["data"]["groups"]
    assert any(rule["name"].startswith("vigia:") for g in groups for rule in g["rules"])


def test_helm_upgrade_from_the_previous_release_fails_no_request(
        kubeconfig: Path, served: str) -> None:
    _upgrade(kubeconfig, PREVIOUS_CHART)
    before = _revision(kubeconfig)
    host = _service_address(kubeconfig, served)
    traffic = subprocess.Popen(
        [str(kubectl_path()), f"--kubeconfig={kubeconfig}", "-n", served, "exec", CLIENT,
         "--", "python3", "-c", TRAFFIC, host, STOP, _sample_row(kubeconfig, served)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _upgrade(kubeconfig, p.ROOT / "charts/vigia")
        kubectl(kubeconfig, "-n", loop.SYSTEM, "rollout", "status",
                f"deployment/{loop.OPERATOR}", "--timeout=300s", timeout=320)
        _reconciled_by_the_new_operator(kubeconfig, served)
    finally:
        kubectl(kubeconfig, "-n", served, "exec", CLIENT, "--", "touch", STOP)
        out, err = traffic.communicate(timeout=60)
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    print(f"\nfigure: helm upgrade {PREVIOUS_RELEASE} -> working tree under keep-alive "
          f"traffic: {result['ok']} requests answered, {result['failed']} failed")
    assert _revision(kubeconfig) == before + 1
    assert result["ok"] >= 20, (result, err)
    assert result["failed"] == 0, result


def test_helm_uninstall_keeps_the_crd_and_the_models_and_says_so(
        kubeconfig: Path, served: str) -> None:
    out = helm(kubeconfig, "uninstall", loop.RELEASE, f"--namespace={loop.SYSTEM}", "--wait",
               "--timeout=3m")
    assert "kept due to the resource policy" in out and CRD in out, out
    assert kubectl(kubeconfig, "get", "crd", CRD, "-o", "name").strip()
    assert kubectl(kubeconfig, "-n", served, "get", "modeldeployment", MODEL, "-o", "name")
    assert not kubectl(kubeconfig, "-n", loop.SYSTEM, "get", "deployment", loop.OPERATOR,
                       "--ignore-not-found", "-o", "name").strip()
