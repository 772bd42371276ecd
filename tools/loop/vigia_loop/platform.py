"""Vigía installed as a user installs it, and a namespace for models.

`kubectl apply -k manifests/` (CRD, RBAC, the operator), `kubectl apply -k manifests/addons`
(PostgreSQL, Prometheus, the bundle volume with the sample bundle and its training rows),
then a namespace under Pod Security "restricted" with the prediction log's Secret and a
claim on the bundle volume.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, TypeVar

from vigia_devcluster.kubectl import apply, get, kubectl
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


def restricted_namespace(kubeconfig: Path, name: str) -> str:
    """Namespace ``name`` under Pod Security "restricted", with the prediction log's Secret
    (labelled for the operator's Secret policy) and the bundle claim. One this module made
    before (labelled so) is deleted first, with its volume: a rerun starts afresh."""
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
    bundles_claim(kubeconfig, name)
    return name


def remove_namespace(kubeconfig: Path, name: str) -> None:
    """Delete namespace ``name`` and its bundle volume, if this module made them."""
    found = kubectl(kubeconfig, "get", "namespace", name, "--ignore-not-found",
                    "-o", "jsonpath={.metadata.labels}")
    if not found:
        return
    if MADE_HERE_LABEL not in found:
        raise RuntimeError(f"namespace {name} exists and was not made by vigia_loop: "
                           "not touching it; choose another")
    kubectl(kubeconfig, "delete", "namespace", name, "--wait=true", "--timeout=300s",
            timeout=320)
    kubectl(kubeconfig, "delete", "pv", f"{BUNDLES_CLAIM}-{name}", "--ignore-not-found")


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
