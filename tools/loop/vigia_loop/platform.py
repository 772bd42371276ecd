"""Vigía installed as a user installs it, and a namespace for models.

`kubectl apply -k manifests/` (CRD, RBAC, the operator), `kubectl apply -k manifests/addons`
(PostgreSQL, Prometheus, the bundle volume with the sample bundle and its training rows),
then a namespace under Pod Security "restricted" with the prediction log's Secret and a
claim on the bundle volume.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, TypeVar

import yaml
from vigia_devcluster import images
from vigia_devcluster.binaries import cache_root
from vigia_devcluster.cluster import ADDONS
from vigia_devcluster.helm import helm
from vigia_devcluster.kubectl import apply, get, kubectl, wait_established
from vigia_operator.core import resources as r

from vigia import metrics

ROOT: Final = Path(__file__).resolve().parents[3]
SYSTEM: Final = "vigia-system"
OPERATOR: Final = "vigia-operator"
POSTGRES_HOST: Final = f"vigia-postgresql.{SYSTEM}.svc.cluster.local"
# The bundle claim, bound in every model namespace to the same storage as the system's: the
# operator mounts a pvc:// model read-only for the servers, read-write for retraining.
BUNDLES_CLAIM: Final = "vigia-bundles"
SAMPLE_URI: Final = f"pvc://{BUNDLES_CLAIM}/sobaos/1"
SAMPLE_DATASET_URI: Final = f"pvc://{BUNDLES_CLAIM}/sobaos/train.csv"
# The label the operator's Secret policy asks of a Secret a ModelDeployment references.
SECRET_ACCESS_LABEL: Final = {"vigia.dev/model-access": "true"}
STORE_SECRET: Final = "vigia-store"
MADE_HERE_LABEL: Final = "vigia.dev/made-by-vigia-loop"
SYSTEM_DEPLOYMENTS: Final = (OPERATOR, "vigia-postgresql", "vigia-prometheus", "vigia-bundles")
# Installed with Helm: the release, the add-ons beside it, the chart's values for this cluster.
RELEASE: Final = "vigia"
HELM_ADDONS: Final = ("postgresql.yaml", "bundles.yaml")
MONITORING: Final = "vigia-monitoring"
PROMETHEUS_OPERATOR_ADDON: Final = ADDONS / "prometheus-operator.yaml"
PROMETHEUS_STATEFULSET: Final = "prometheus-vigia"  # the operator's name for Prometheus "vigia"
PROMETHEUS_PROXY: Final = (f"/api/v1/namespaces/{MONITORING}/services/prometheus-operated:9090"
                           "/proxy")
HELM_VALUES: Final = {
    "operator.prometheusUrl": f"http://prometheus-operated.{MONITORING}.svc:9090",
    "prometheus.operator.enabled": "true",
    "prometheus.operator.interval": "5s",  # manifests/addons/prometheus.yaml's scrape interval
    "operator.metrics.enabled": "true",  # and the chart's ServiceMonitor for them
    "tests.sampleModel.enabled": "false",  # the loop deploys its own model
}

T = TypeVar("T")


def until(check: Callable[[], T | None], timeout: float, what: str,
          interval: float = 1.0) -> T:
    """Poll ``check`` until it returns something truthy, which is returned; TimeoutError
    names ``what`` and the last error seen."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            value = check()
        except Exception as error:  # not there yet: keep polling
            value, last = None, error
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not after {timeout:.0f} s (last error: {last!r})")
        time.sleep(interval)


def install(kubeconfig: Path, *, tick_seconds: float | None = None) -> None:
    """The shipped manifests and the add-ons, each waited for; ``tick_seconds`` sets the
    operator's tick (60 s as shipped)."""
    kubectl(kubeconfig, "apply", "-k", str(ROOT / "manifests"), timeout=120)
    kubectl(kubeconfig, "apply", "-k", str(ROOT / "manifests/addons"), timeout=120)
    if tick_seconds is not None:
        kubectl(kubeconfig, "-n", SYSTEM, "set", "env", f"deployment/{OPERATOR}",
                f"VIGIA_OPERATOR_TICK_SECONDS={tick_seconds:g}")
    for deployment in SYSTEM_DEPLOYMENTS:
        kubectl(kubeconfig, "-n", SYSTEM, "rollout", "status", f"deployment/{deployment}",
                "--timeout=300s", timeout=320)
    kubectl(kubeconfig, "-n", SYSTEM, "wait", "--for=condition=Complete",
            "job/vigia-sample-bundle", "--timeout=300s", timeout=320)


def install_with_helm(kubeconfig: Path, *, tick_seconds: float | None = None) -> None:
    """Vigía as most users install it: `helm upgrade --install` of charts/vigia into a
    cluster that runs the Prometheus Operator (tools/devcluster/addons/prometheus-operator
    .yaml, built from its Go module): the chart's PodMonitor and PrometheusRule are the
    monitoring configuration. PostgreSQL and the bundle volume come from manifests/addons.
    The Prometheus is created last, so that it starts with the chart's configuration (a
    change reaches a running one only at the kubelet's next sync of its volumes, ~1 min)."""
    addon = list(yaml.safe_load_all(PROMETHEUS_OPERATOR_ADDON.read_text()))
    prometheus = [d for d in addon if d["kind"] == "Prometheus"]
    install_prometheus_operator(kubeconfig, [d for d in addon if d["kind"] != "Prometheus"])
    apply(kubeconfig, yaml.safe_load((ROOT / "manifests/rbac/namespace.yaml").read_text()))
    for name in HELM_ADDONS:
        kubectl(kubeconfig, "apply", "-n", SYSTEM, "-f", str(ROOT / "manifests/addons" / name))
    values = {**HELM_VALUES, "operator.tickSeconds": f"{tick_seconds or 60:g}"}
    # --take-ownership: a CRD applied before (kubectl apply -k) becomes the release's.
    helm(kubeconfig, "upgrade", "--install", RELEASE, str(ROOT / "charts/vigia"),
         f"--namespace={SYSTEM}", "--take-ownership", "--wait", "--timeout=5m",
         *(f"--set={key}={value}" for key, value in values.items()))
    apply(kubeconfig, *prometheus)
    for deployment in ("vigia-postgresql", "vigia-bundles"):
        kubectl(kubeconfig, "-n", SYSTEM, "rollout", "status", f"deployment/{deployment}",
                "--timeout=300s", timeout=320)
    kubectl(kubeconfig, "-n", SYSTEM, "wait", "--for=condition=Complete",
            "job/vigia-sample-bundle", "--timeout=300s", timeout=320)
    until(lambda: kubectl(kubeconfig, "-n", MONITORING, "get", "statefulset",
                          PROMETHEUS_STATEFULSET, "-o", "name"),
          120, f"the Prometheus Operator's StatefulSet {PROMETHEUS_STATEFULSET}")
    kubectl(kubeconfig, "-n", MONITORING, "rollout", "status",
            f"statefulset/{PROMETHEUS_STATEFULSET}", "--timeout=300s", timeout=320)
    until(lambda: _loaded_rule_groups(kubeconfig), 180,
          "the chart's PrometheusRule loaded by the operator's Prometheus", interval=2)


def install_prometheus_operator(kubeconfig: Path, documents: list[dict[str, Any]]) -> None:
    """The operator's CRDs (server-side: the Prometheus CRD is past the client-side apply
    annotation's size), then the operator (``documents``), available."""
    kubectl(kubeconfig, "apply", "--server-side", "--force-conflicts", "-f",
            str(prometheus_operator_crds()), timeout=180)
    wait_established(kubeconfig, [f"{plural}.monitoring.coreos.com" for plural in (
        "prometheuses", "podmonitors", "servicemonitors", "prometheusrules")])
    apply(kubeconfig, *documents)
    kubectl(kubeconfig, "-n", MONITORING, "rollout", "status", "deployment/prometheus-operator",
            "--timeout=300s", timeout=320)


def _loaded_rule_groups(kubeconfig: Path) -> list[Any]:
    answer = json.loads(kubectl(kubeconfig, "get", "--raw", f"{PROMETHEUS_PROXY}/api/v1/rules"))
    return list(answer["data"]["groups"])


def prometheus_operator_crds() -> Path:
    """The CRDs tools/prometheus-operator/build.sh copied from the operator's module."""
    version = images.versions()["PROMETHEUS_OPERATOR_VERSION"]
    crds = cache_root() / f"prometheus-operator-{version}" / "crds"
    if not crds.is_dir():
        raise FileNotFoundError(f"{crds} is missing: run bash tools/prometheus-operator/build.sh")
    return crds


def restricted_namespace(kubeconfig: Path, name: str) -> str:
    """Namespace ``name`` under Pod Security "restricted", with the prediction log's Secret
    (labelled and granted for the operator's Secret policy) and the bundle claim. One this
    module made before (labelled so) is deleted first, with its volume: a rerun starts afresh."""
    remove_namespace(kubeconfig, name)
    apply(kubeconfig, {
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": name, "labels": {
            MADE_HERE_LABEL: "true",
            "pod-security.kubernetes.io/enforce": "restricted",
            "pod-security.kubernetes.io/enforce-version": "latest"}},
    })
    until(lambda: kubectl(kubeconfig, "get", "serviceaccount", "default", "-n", name),
          60, f"ServiceAccount default in {name}")
    secret = get(kubeconfig, "-n", SYSTEM, "secret", "vigia-postgresql")
    password = base64.b64decode(secret["data"]["password"]).decode()
    url = f"postgresql+psycopg://vigia:{password}@{POSTGRES_HOST}:5432/vigia"
    apply(kubeconfig, {"apiVersion": "v1", "kind": "Secret",
                       "metadata": {"name": STORE_SECRET, "namespace": name,
                                    "labels": SECRET_ACCESS_LABEL},
                       "stringData": {"url": url}})
    # The operator reads no Secret the namespace has not granted it (docs/security.md).
    kubectl(kubeconfig, "apply", "-n", name, "-f",
            str(ROOT / "manifests/samples/secret-grant.yaml"))
    bundles_claim(kubeconfig, name)
    return name


def remove_namespace(kubeconfig: Path, name: str, *, wait: bool = True) -> None:
    """Delete namespace ``name`` and its bundle volume, if this module made them.
    ``wait=False``: return once asked (the volume goes when its claim has: its protection
    finalizer waits for that), for a caller that does not reuse the name."""
    found = kubectl(kubeconfig, "get", "namespace", name, "--ignore-not-found",
                    "-o", "jsonpath={.metadata.labels}")
    if not found:
        return
    if MADE_HERE_LABEL not in found:
        raise RuntimeError(f"namespace {name} exists and was not made by vigia_loop: "
                           "not touching it; choose another")
    kubectl(kubeconfig, "delete", "namespace", name, f"--wait={str(wait).lower()}",
            "--timeout=300s", timeout=320)
    kubectl(kubeconfig, "delete", "pv", f"{BUNDLES_CLAIM}-{name}", "--ignore-not-found",
            f"--wait={str(wait).lower()}")


def bundles_claim(kubeconfig: Path, namespace: str) -> None:
    """The claim `vigia-bundles` in ``namespace`` on the system's bundle storage (a volume
    of its own, since a volume binds one claim). Read-write: retraining Jobs write their
    candidates beside the current bundle; the servers mount it read-only."""
    system_volume = get(kubeconfig, "pv", BUNDLES_CLAIM)
    volume = f"{BUNDLES_CLAIM}-{namespace}"
    spec = {k: v for k, v in system_volume["spec"].items() if k != "claimRef"}
    spec.update(accessModes=["ReadWriteOnce"], persistentVolumeReclaimPolicy="Retain",
                claimRef={"namespace": namespace, "name": BUNDLES_CLAIM})
    apply(kubeconfig, {"apiVersion": "v1", "kind": "PersistentVolume",
                       "metadata": {"name": volume}, "spec": spec})
    apply(kubeconfig, {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                       "metadata": {"name": BUNDLES_CLAIM, "namespace": namespace},
                       "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "",
                                "volumeName": volume,
                                "resources": {"requests": {"storage": "1Gi"}}}})


def host_path(kubeconfig: Path, namespace: str, uri: str) -> Path | None:
    """Where a pvc://vigia-bundles/... file of ``namespace`` is on this machine, when its
    volume is a hostPath one (the local cluster's); None otherwise."""
    prefix = f"pvc://{BUNDLES_CLAIM}/"
    if not uri.startswith(prefix):
        return None
    volume = get(kubeconfig, "pv", f"{BUNDLES_CLAIM}-{namespace}")
    root = (volume["spec"].get("hostPath") or {}).get("path")
    return None if root is None else Path(root) / uri[len(prefix):]


def condition(status: dict[str, Any], type_: str) -> dict[str, Any]:
    """Condition ``type_`` of a ModelDeployment's status; {} when it has none."""
    return next((dict(c) for c in status.get("conditions") or [] if c["type"] == type_), {})


def wait_model_ready(kubeconfig: Path, namespace: str, name: str,
                     timeout: float = 300) -> float:
    """Seconds until the ModelDeployment says Ready=True."""
    began = time.monotonic()
    until(lambda: condition(get(kubeconfig, "-n", namespace, "modeldeployment", name)
                            .get("status") or {}, "Ready").get("status") == "True",
          timeout, f"ModelDeployment {namespace}/{name} Ready")
    return time.monotonic() - began


# Run in a model-server pod: its own counts, as its /metrics shows them, and the files
# behind them (BentoML's multiprocess directory).
_SERVER_COUNTS_CODE: Final = (
    "import os, urllib.request as u\n"
    f"text = u.urlopen('http://127.0.0.1:{r.SERVER_PORT}/metrics', timeout=10).read()"
    ".decode()\n"
    "print('\\n'.join(line for line in text.splitlines() if line.startswith("
    f"{(metrics.PREDICTIONS_SERIES, metrics.FEEDBACK_SERIES, metrics.REQUESTS_SERIES)!r})))\n"
    "d = os.environ.get('PROMETHEUS_MULTIPROC_DIR', '/tmp/bentoml/prometheus_multiproc_dir')\n"
    "print(d, sorted((f, os.path.getsize(os.path.join(d, f))) for f in os.listdir(d)))\n"
    "for pid in (p for p in os.listdir('/proc') if p.isdigit()):\n"
    "    try:\n"
    "        status = dict(line.split(':', 1) for line in open(f'/proc/{pid}/status'))\n"
    "    except OSError:\n"
    "        continue\n"
    "    print(pid, status['Name'].strip(), 'peak RSS', status.get('VmHWM', '?').strip())\n"
)


def server_counts(kubeconfig: Path, namespace: str) -> str:
    """What each model-server pod of ``namespace`` counts itself: for a failure message
    that tells a server that did not count from a Prometheus that did not see it."""
    pods = get(kubeconfig, "-n", namespace, "pods", "-l",
               f"{r.LABEL_COMPONENT}={r.SERVER_COMPONENT}").get("items") or []
    said = []
    for pod in pods:
        name = pod["metadata"]["name"]
        containers = [{k: c.get(k) for k in ("restartCount", "lastState")}
                      for c in (pod.get("status") or {}).get("containerStatuses") or []]
        try:
            said.append(f"{name} {containers}:\n" + kubectl(
                kubeconfig, "-n", namespace, "exec", name, "--", "python3", "-c",
                _SERVER_COUNTS_CODE, timeout=30))
        except Exception as error:  # a diagnostic must not hide the failure it explains
            said.append(f"{name}: {error}")
    return "\n".join(said) or f"no model-server pod in {namespace}"
