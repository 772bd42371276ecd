"""Router GatewayAPI through the operator: its HTTPRoute is a watched child like the others.

With the Gateway API CRDs installed (v1.6.3, tests/fixtures/gateway_api.py; no Gateway
runs, the API server validates and stores the routes), the operator creates the route,
stays silent about it while nothing changes, undoes a hand edit with one ``Restored``
Event, re-creates a deleted route, and moves its weights through a rollout without a
``Restored``. On a cluster of its own without those CRDs, the operator starts, serves
router Replicas, says once that HTTPRoutes are not watched and refuses router GatewayAPI.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from vigia_operator.engine.reconcile import APPLIED_MEMORY_SECONDS
from vigia_testbed.kube import kubectl, wait_for
from vigia_testbed.operator import (
    OperatorProcess,
    install,
    model_deployment,
    operator_kubeconfig,
    wait_ready,
    wait_stable,
)

pytestmark = pytest.mark.integration

TICK_SECONDS = 5
ROUTE = "iris-route"
GATEWAY_GROUP = "gateway.networking.k8s.io"
ROUTED: dict[str, Any] = {"rollout": {"traffic": {"router": "GatewayAPI",
                                  "httpRoute": {"name": ROUTE, "parentRefs": [{"name": "gw"}]}}}}


@contextmanager
def running_operator(kubeconfig: Path, namespace: str, log: Path) -> Iterator[OperatorProcess]:
    process = OperatorProcess(kubeconfig, log, [namespace],
                              env={"VIGIA_OPERATOR_TICK_SECONDS": str(TICK_SECONDS)})
    process.start()
    try:
        yield process
    finally:
        process.stop()
        text = process.log()
        assert "is forbidden: User" not in text, text[-4000:]
        assert "Traceback" not in text, text[-4000:]


@pytest.fixture
def operator(gateway_crds: Path, operator_config: Path, namespace: str,
             tmp_path: Path) -> Iterator[OperatorProcess]:
    """Started after the CRDs are installed, as the operator of a cluster that has them."""
    with running_operator(operator_config, namespace, tmp_path / "operator.log") as process:
        yield process


def get(kubeconfig: Path, namespace: str, *args: str) -> Any:
    return json.loads(kubectl(kubeconfig, "get", *args, "-n", namespace, "-o", "json"))


def events(kubeconfig: Path, namespace: str, name: str) -> dict[str, dict[str, Any]]:
    """The ModelDeployment's Events by their object's name (each Event is an object)."""
    items = get(kubeconfig, namespace, "events", "--field-selector",
                f"involvedObject.kind=ModelDeployment,involvedObject.name={name}")["items"]
    return {e["metadata"]["name"]: e for e in items}


def about_route(found: dict[str, dict[str, Any]]) -> list[str]:
    return [f"{e['reason']}: {e['message']}" for e in found.values()
            if f"HTTPRoute {ROUTE}" in e.get("message", "")]


def weights(kubeconfig: Path, namespace: str) -> list[int]:
    route = get(kubeconfig, namespace, "httproute", ROUTE)
    return [b["weight"] for b in route["spec"]["rules"][0]["backendRefs"]]


def quiet_period() -> None:
    """Longer than the engine remembers its own applies, plus ticks: an unwatched route
    looks missing once that memory is gone, and the next tick re-creates it."""
    time.sleep(APPLIED_MEMORY_SECONDS + 3 * TICK_SECONDS)


def test_the_route_is_watched_like_the_other_children(
    gateway_crds: Path, namespace: str, operator: OperatorProcess
) -> None:
    kubectl(gateway_crds, "apply", "-n", namespace, "-f", "-",
            input=json.dumps(model_deployment("iris", **ROUTED)))
    wait_ready(gateway_crds, namespace, "iris")
    assert weights(gateway_crds, namespace) == [100, 0]
    route = get(gateway_crds, namespace, "httproute", ROUTE)
    assert route["metadata"]["labels"]["vigia.dev/model-deployment"] == "iris"
    wait_for(lambda: about_route(events(gateway_crds, namespace, "iris")), 30,
             "the Created Event listing the route")
    (created,) = about_route(events(gateway_crds, namespace, "iris"))
    assert created.startswith("Created: ")

    # (1) Nothing changes: nothing is said about the route, over several ticks.
    before = events(gateway_crds, namespace, "iris")
    quiet_period()
    after = events(gateway_crds, namespace, "iris")
    new = {name: e for name, e in after.items() if name not in before}
    assert about_route(new) == []
    assert route["metadata"]["resourceVersion"] == get(
        gateway_crds, namespace, "httproute", ROUTE)["metadata"]["resourceVersion"]

    # (2) A hand edit of the weights is undone, with exactly one Restored Event naming it.
    before = events(gateway_crds, namespace, "iris")
    kubectl(gateway_crds, "patch", "httproute", ROUTE, "-n", namespace, "--type=json", "-p",
            json.dumps([{"op": "replace", "path": f"/spec/rules/0/backendRefs/{i}/weight",
                         "value": 50} for i in (0, 1)]))
    wait_for(lambda: weights(gateway_crds, namespace) == [100, 0], 30, "weights restored")
    time.sleep(3 * TICK_SECONDS)  # room for a second report, if there were one
    new = {n: e for n, e in events(gateway_crds, namespace, "iris").items() if n not in before}
    (restored,) = about_route(new)
    assert restored.startswith(f"Restored: HTTPRoute {ROUTE} was changed (spec.rules")
    assert restored.endswith("restored it.")
    assert [e["type"] for e in new.values() if e["reason"] == "Restored"] == ["Warning"]

    # (3) A deleted route is re-created and reported as the other kinds are.
    uid = get(gateway_crds, namespace, "httproute", ROUTE)["metadata"]["uid"]
    before = events(gateway_crds, namespace, "iris")
    kubectl(gateway_crds, "delete", "httproute", ROUTE, "-n", namespace)
    wait_for(lambda: get(gateway_crds, namespace, "httproute", ROUTE)["metadata"]["uid"] != uid,
             30, "the route re-created")
    assert weights(gateway_crds, namespace) == [100, 0]
    wait_for(lambda: about_route({n: e for n, e in events(gateway_crds, namespace, "iris")
                                  .items() if n not in before}), 30, "the re-created Event")
    time.sleep(3 * TICK_SECONDS)
    new = {n: e for n, e in events(gateway_crds, namespace, "iris").items() if n not in before}
    assert about_route(new) == [f"Restored: HTTPRoute {ROUTE} was deleted; re-created it."]
    wait_ready(gateway_crds, namespace, "iris")


def test_a_rollout_moves_the_route_weights_without_restores(
    gateway_crds: Path, namespace: str, operator: OperatorProcess
) -> None:
    """The weights a rollout sets are the rollout's Events, never a Restored."""
    md = model_deployment("iris", "s3://models/iris/v1", **ROUTED)
    md["spec"]["rollout"]["steps"] = [{"weight": 20}]
    kubectl(gateway_crds, "apply", "-n", namespace, "-f", "-", input=json.dumps(md))
    wait_ready(gateway_crds, namespace, "iris")
    kubectl(gateway_crds, "patch", "md", "iris", "-n", namespace, "--type=merge",
            "-p", json.dumps({"spec": {"model": {"uri": "s3://models/iris/v2"}}}))
    wait_for(lambda: weights(gateway_crds, namespace) == [80, 20], 60,
             "the canary's step weight on the route")
    kubectl(gateway_crds, "annotate", "md", "iris", "-n", namespace, "vigia.dev/rollout=promote")
    wait_stable(gateway_crds, namespace, "iris", "v2")
    wait_for(lambda: weights(gateway_crds, namespace) == [100, 0], 60, "all weight on stable")
    wait_ready(gateway_crds, namespace, "iris")
    time.sleep(2 * TICK_SECONDS)
    said = events(gateway_crds, namespace, "iris").values()
    assert {"RolloutStarted", "Promoted"} <= {e["reason"] for e in said}
    assert [e["message"] for e in said if e["reason"] == "Restored"] == []


def wait_refused(kubeconfig: Path, namespace: str, name: str, reason: str) -> str:
    """The Ready condition's message once it is False with ``reason``."""
    def refused() -> str | None:
        md = get(kubeconfig, namespace, "md", name)
        ready: dict[str, Any] = next((c for c in (md.get("status") or {}).get("conditions") or []
                      if c["type"] == "Ready"), {})
        return str(ready["message"]) if ready.get("reason") == reason and (
            ready["status"] == "False") else None

    return wait_for(refused, 60, f"{name} refused with {reason}")


def _serves_gateway_api(kubeconfig: Path) -> bool:
    return bool(kubectl(kubeconfig, "api-resources", f"--api-group={GATEWAY_GROUP}",
                        "-o", "name").strip())


@pytest.fixture(scope="module")
def bare_cluster() -> Iterator[Path]:
    """A cluster without the Gateway API CRDs: one of its own (the session's may have them
    from other tests), or $KUBECONFIG's when it does not serve them."""
    external = os.environ.get("KUBECONFIG")
    if external:
        given = Path(external.split(os.pathsep)[0])
        if _serves_gateway_api(given):
            pytest.skip("the cluster given in $KUBECONFIG serves the Gateway API")
        install(given)
        yield given
        return
    import vigia_devcluster

    cluster = vigia_devcluster.up(vigia_devcluster.session_name(os.getpid(), "no-gateway"),
                                  nodes=1)
    try:
        install(cluster.kubeconfig)
        # A new cluster's API server answers 429 "storage is (re)initializing" for a while.
        wait_for(lambda: kubectl(cluster.kubeconfig, "get", "modeldeployments", "-A") + "ok",
                 60, "the ModelDeployment storage ready")
        yield cluster.kubeconfig
    finally:
        vigia_devcluster.down(cluster.name)


def test_without_the_gateway_api_the_operator_serves_replicas_and_says_so_once(
    bare_cluster: Path, tmp_path: Path
) -> None:
    assert not _serves_gateway_api(bare_cluster)
    namespace = f"t-no-gateway-{os.getpid()}"
    kubectl(bare_cluster, "create", "namespace", namespace)
    wait_for(lambda: kubectl(bare_cluster, "get", "serviceaccount", "default", "-n", namespace),
             60, f"ServiceAccount default in {namespace}")
    config = operator_kubeconfig(bare_cluster, tmp_path / "kubeconfig")
    try:
        with running_operator(config, namespace, tmp_path / "operator.log") as process:
            kubectl(bare_cluster, "apply", "-n", namespace, "-f", "-",
                    input=json.dumps(model_deployment("plain")))
            md = wait_ready(bare_cluster, namespace, "plain")
            assert md["status"]["phase"] == "Ready"
            time.sleep(2 * TICK_SECONDS)  # ticks after Ready: nothing more to say
            lines = [line for line in process.log().splitlines()
                     if "httproute" in line.lower() or GATEWAY_GROUP in line]
            assert len(lines) == 1, "\n".join(lines)
            assert "HTTPRoutes are not watched" in lines[0]
            assert "ERROR" not in process.log()

            # Router GatewayAPI there: refused, saying what to install, and not retried.
            kubectl(bare_cluster, "apply", "-n", namespace, "-f", "-",
                    input=json.dumps(model_deployment("routed", **ROUTED)))
            refused = wait_refused(bare_cluster, namespace, "routed", "APINotServed")
            assert "install the Gateway API CRDs, then restart the operator" in refused
            time.sleep(2 * TICK_SECONDS)
            assert "retrying" not in process.log() and "ERROR" not in process.log()
            assert get(bare_cluster, namespace, "deployments", "-l",
                       "vigia.dev/model-deployment=routed")["items"] == []
    finally:
        kubectl(bare_cluster, "delete", "namespace", namespace, "--wait=false")
