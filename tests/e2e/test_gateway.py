"""Router GatewayAPI on the real node, through a real Gateway API implementation: Traefik,
built from its Go module (tools/gateway), runs as a pod and routes by the weights of the
HTTPRoute the operator owns. A new version at 10% receives 10% ± 3 points of 2,000
requests sent on one keep-alive connection (which the Replicas router, balancing
connections, cannot split), passes its analysis and is promoted; the route is watched like
the other children: a hand edit is undone with one `Restored` Event."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from vigia_devcluster.binaries import kubectl_path
from vigia_loop import platform as loop
from vigia_loop.loop import bundle_writer, client_pod
from vigia_operator.core import reasons
from vigia_testbed import gateway as traefik
from vigia_testbed import realnode as p
from vigia_testbed.kube import kubectl
from vigia_testbed.pods import IMAGES, apply, wait_ready

from tests.fixtures import gateway_api

pytestmark = pytest.mark.e2e

MODEL = "sobaos"
GATEWAY_NAMESPACE = "vigia-gateway"
TRAEFIK = "traefik"
GATEWAY = "models"
ROUTE = "sobaos"
PORT = 8000  # Traefik's web entrypoint, the Gateway listener's port
PING_PORT = 9000
CLIENT = "production-line"
WRITER = "bundle-writer"
NEW_VERSION = "2"
NEW_URI = f"pvc://{loop.BUNDLES_CLAIM}/sobaos/gateway-{NEW_VERSION}"
REQUESTS = 2000
CANARY_WEIGHT = 10
STOP = "/tmp/stop"
# The sample pipeline fitted on another day of normal production: a sound new version.
NEW_BUNDLE_CODE = f"""
from vigia.bundle import export_bundle, make_bundle
from vigia.sample import production_line, sample_pipeline
X, y = production_line(1500, seed=7)
bundle = make_bundle(sample_pipeline(7).fit(X, y), X, y, name="sobaos", version="{NEW_VERSION}")
print(export_bundle(bundle, "file:///bundles/sobaos/gateway-{NEW_VERSION}", home="/tmp/vigia"))
"""
# Runs in the client pod: one keep-alive connection through the Gateway, one sample row per
# request; first until the new version answers once (the route's weights reached Traefik),
# then ``count`` requests, each answer's version counted.
COUNT = """
import http.client, json, subprocess, sys
url_host, count, wanted = sys.argv[1], int(sys.argv[2]), sys.argv[3]
subprocess.run(["vigia", "sample", "traffic", "--out", "/tmp/rows.jsonl", "--rows", "500",
                "--seed", "5"], check=True)
rows = [line.strip() for line in open("/tmp/rows.jsonl")]
conn = http.client.HTTPConnection(url_host, timeout=10)
sent = 0
def version():
    global sent
    sent += 1
    body = '{"rows": [' + rows[sent % len(rows)] + ']}'
    conn.request("POST", "/predict", body, {"Content-Type": "application/json"})
    response = conn.getresponse()
    answer = response.read()
    if response.status != 200:
        return f"HTTP {response.status}"
    return json.loads(answer)["version"]
warmup = 0
while version() != wanted:
    warmup += 1
    if warmup > 1000:
        raise SystemExit("the new version never answered through the Gateway")
counts = {}
for _ in range(count):
    v = version()
    counts[v] = counts.get(v, 0) + 1
print(json.dumps({"counts": counts, "warmup": warmup}))
"""


@dataclass(frozen=True)
class Routed:
    kubeconfig: Path
    namespace: str
    counts: dict[str, int]
    promoted: dict[str, Any]


def _traefik(namespace: str) -> list[dict[str, Any]]:
    """Traefik's Deployment and Service: its Gateway provider, in-cluster credentials."""
    labels = {"app.kubernetes.io/name": TRAEFIK}
    container = {
        "name": TRAEFIK, "image": IMAGES["traefik"], "imagePullPolicy": "IfNotPresent",
        "args": ["--providers.kubernetesgateway", f"--entryPoints.web.address=:{PORT}",
                 f"--entryPoints.traefik.address=:{PING_PORT}", "--ping=true",
                 "--api.dashboard=false", "--global.checkNewVersion=false",
                 "--global.sendAnonymousUsage=false"],
        "ports": [{"name": "web", "containerPort": PORT}],
        "readinessProbe": {"httpGet": {"path": "/ping", "port": PING_PORT}},
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"},
                      "limits": {"memory": "256Mi"}},
        "securityContext": {"allowPrivilegeEscalation": False,
                            "capabilities": {"drop": ["ALL"]},
                            "readOnlyRootFilesystem": True},
    }
    pod_spec = {"serviceAccountName": TRAEFIK, "containers": [container],
                "securityContext": {"runAsNonRoot": True, "runAsUser": 65534,
                                    "seccompProfile": {"type": "RuntimeDefault"}}}
    return [
        {"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": {"name": TRAEFIK, "namespace": namespace, "labels": labels},
         "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                  "template": {"metadata": {"labels": labels}, "spec": pod_spec}}},
        {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": TRAEFIK, "namespace": namespace},
         "spec": {"selector": labels, "ports": [{"name": "web", "port": PORT}]}},
    ]


def _model(namespace: str) -> dict[str, Any]:
    md = p.model_deployment(MODEL, p.SAMPLE_URI)
    md["spec"]["rollout"] = {
        "steps": [{"weight": CANARY_WEIGHT, "pause": "30s"}],
        "analysis": {"interval": "15s", "minSamples": 10, "failureLimit": 2,
                     # Errors and latency: what a router can break. The distribution gates
                     # are the closed loop's (a few dozen canary rows at 10% make them noise).
                     "onNoData": "Inconclusive",
                     "skipGates": ["accuracyDrop", "predictionShift", "inputDrift"],
                     "gates": {"errorRate": 0.01, "latencyP95": 3.0}},
        "traffic": {"router": "GatewayAPI",
                    "httpRoute": {"name": ROUTE, "parentRefs": [{"name": GATEWAY}]}},
    }
    return md


def _md(kubeconfig: Path, namespace: str) -> dict[str, Any]:
    return dict(json.loads(kubectl(kubeconfig, "-n", namespace, "get", "modeldeployment",
                                   MODEL, "-o", "json")))


def _at_canary_step(kubeconfig: Path, namespace: str) -> bool:
    canary = _md(kubeconfig, namespace).get("status", {}).get("canary") or {}
    route = json.loads(kubectl(kubeconfig, "-n", namespace, "get", "httproute", ROUTE,
                               "-o", "json"))
    weights = [ref.get("weight") for rule in route["spec"]["rules"]
               for ref in rule["backendRefs"]]
    return (canary.get("achievedWeight") == CANARY_WEIGHT and CANARY_WEIGHT in weights
            and traffic_accepted(kubeconfig, namespace))


def traffic_accepted(kubeconfig: Path, namespace: str) -> bool:
    return traefik.route_condition(kubeconfig, namespace, ROUTE, "Accepted") == "True"


def _promoted(kubeconfig: Path, namespace: str) -> dict[str, Any] | None:
    history = _md(kubeconfig, namespace).get("status", {}).get("history") or []
    return next((h for h in reversed(history) if h.get("version") == NEW_VERSION
                 and h.get("outcome") == "Promoted"), None)


def _events(kubeconfig: Path, namespace: str, reason: str) -> list[dict[str, Any]]:
    events = json.loads(kubectl(kubeconfig, "-n", namespace, "get", "events", "-o", "json",
                                "--field-selector", f"reason={reason}"))
    return [e for e in events["items"] if e["involvedObject"]["name"] == MODEL]


@pytest.fixture(scope="module")
def routed(kubeconfig: Path) -> Iterator[Routed]:
    loop.install_with_helm(kubeconfig)
    gateway_api.install(kubeconfig, gateway_api.IMPLEMENTATION_CRDS)
    # The operator sees which APIs the cluster serves when it starts (docs/operator.md).
    kubectl(kubeconfig, "-n", loop.SYSTEM, "rollout", "restart", f"deployment/{loop.OPERATOR}")
    kubectl(kubeconfig, "-n", loop.SYSTEM, "rollout", "status", f"deployment/{loop.OPERATOR}",
            "--timeout=300s", timeout=320)
    apply(kubeconfig, {"apiVersion": "v1", "kind": "Namespace",
                       "metadata": {"name": GATEWAY_NAMESPACE, "labels": {
                           "pod-security.kubernetes.io/enforce": "restricted"}}})
    apply(kubeconfig, *traefik.controller_rbac(TRAEFIK, GATEWAY_NAMESPACE))
    apply(kubeconfig, *_traefik(GATEWAY_NAMESPACE))
    apply(kubeconfig, traefik.gateway_class(TRAEFIK))
    namespace = p.restricted_namespace(kubeconfig)
    try:
        apply(kubeconfig, traefik.gateway(GATEWAY, TRAEFIK, PORT), namespace=namespace)
        apply(kubeconfig, bundle_writer(WRITER, NEW_BUNDLE_CODE), client_pod(),
              namespace=namespace)
        apply(kubeconfig, _model(namespace), namespace=namespace)
        kubectl(kubeconfig, "-n", GATEWAY_NAMESPACE, "rollout", "status",
                f"deployment/{TRAEFIK}", "--timeout=300s", timeout=320)
        p.wait_model_ready(kubeconfig, namespace, MODEL)
        wait_ready(kubeconfig, namespace, f"pod/{CLIENT}")
        kubectl(kubeconfig, "-n", namespace, "wait", "--for=jsonpath={.status.phase}=Succeeded",
                f"pod/{WRITER}", "--timeout=300s", timeout=320)
        yield _roll_out_through_the_gateway(kubeconfig, namespace)
    finally:
        kubectl(kubeconfig, "delete", "namespace", namespace, "--wait=false")


def _roll_out_through_the_gateway(kubeconfig: Path, namespace: str) -> Routed:
    kubectl(kubeconfig, "-n", namespace, "patch", "modeldeployment", MODEL, "--type=merge",
            "-p", json.dumps({"spec": {"model": {"uri": NEW_URI, "version": NEW_VERSION}}}))
    loop.until(lambda: _at_canary_step(kubeconfig, namespace), 300,
               f"the canary ready at {CANARY_WEIGHT}% on the accepted route", interval=2)
    through = f"{TRAEFIK}.{GATEWAY_NAMESPACE}.svc.cluster.local:{PORT}"
    out = kubectl(kubeconfig, "-n", namespace, "exec", CLIENT, "--", "python3", "-c", COUNT,
                  through, str(REQUESTS), NEW_VERSION, timeout=600)
    counted = json.loads(out.strip().splitlines()[-1])
    # Traffic goes on (the analysis needs samples at every interval) until the promotion.
    # Predictions only: Traefik's weighted round robin is deterministic, so with a prediction
    # and its feedback alternating, the canary's one turn in ten fell on a feedback every
    # time and it counted no prediction at all.
    keep = subprocess.Popen(
        [str(kubectl_path()), f"--kubeconfig={kubeconfig}", "-n", namespace, "exec", CLIENT,
         "--", "vigia", "sample", "send", f"http://{through}", "--seed", "9", "--batch", "2",
         "--no-feedback", "--pause", "0.02", "--until-file", STOP],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        try:
            promoted = loop.until(lambda: _promoted(kubeconfig, namespace), 300,
                                  f"version {NEW_VERSION} promoted", interval=2)
        except TimeoutError as error:
            canary = _md(kubeconfig, namespace).get("status", {}).get("canary") or {}
            raise TimeoutError(f"{error}; the canary: {canary.get('message')}") from error
    finally:
        kubectl(kubeconfig, "-n", namespace, "exec", CLIENT, "--", "touch", STOP)
        keep.communicate(timeout=60)
    return Routed(kubeconfig, namespace, counted["counts"], promoted)


def test_the_canary_gets_its_weight_of_keep_alive_requests(routed: Routed) -> None:
    canary = routed.counts.get(NEW_VERSION, 0)
    share = 100 * canary / REQUESTS
    print(f"\nfigure: through Traefik at {CANARY_WEIGHT}%: {canary} of {REQUESTS} keep-alive "
          f"requests to the canary ({share:.1f}%); all answers: {routed.counts}")
    assert sum(routed.counts.values()) == REQUESTS
    assert set(routed.counts) == {"1", NEW_VERSION}, routed.counts  # no HTTP errors
    assert abs(share - CANARY_WEIGHT) <= 3


def test_the_canary_passes_its_analysis_and_is_promoted(routed: Routed) -> None:
    assert routed.promoted["outcome"] == "Promoted"
    route = json.loads(kubectl(routed.kubeconfig, "-n", routed.namespace, "get", "httproute",
                               ROUTE, "-o", "json"))
    weights = {ref["name"]: ref.get("weight") for rule in route["spec"]["rules"]
               for ref in rule["backendRefs"]}
    assert sorted(weights.values(), reverse=True)[0] == 100, weights


def test_a_hand_edit_of_the_route_is_undone_with_one_event(routed: Routed) -> None:
    kubeconfig, namespace = routed.kubeconfig, routed.namespace
    before = len(_events(kubeconfig, namespace, reasons.RESTORED))
    route = json.loads(kubectl(kubeconfig, "-n", namespace, "get", "httproute", ROUTE,
                               "-o", "json"))
    rules = route["spec"]["rules"]
    for ref in rules[0]["backendRefs"]:
        ref["weight"] = 50
    kubectl(kubeconfig, "-n", namespace, "patch", "httproute", ROUTE, "--type=merge",
            "-p", json.dumps({"spec": {"rules": rules}}))
    loop.until(lambda: len(_events(kubeconfig, namespace, reasons.RESTORED)) > before, 120,
               "a Restored Event for the hand-edited route", interval=2)
    restored = _events(kubeconfig, namespace, reasons.RESTORED)
    assert len(restored) == before + 1
    assert "HTTPRoute" in restored[-1]["message"]
