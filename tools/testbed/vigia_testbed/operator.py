"""The operator as a separate process, authenticated as its own ServiceAccount.

Used by the integration tests and by benchmarks/operator.py. The CRD and the shipped RBAC
are applied with the admin kubeconfig; the operator gets a kubeconfig holding only a token
of the vigia-operator ServiceAccount, so a permission missing from manifests/rbac makes it
fail as it would in a cluster.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from vigia_testbed.kube import kubectl, wait_for
from vigia_testbed.net import free_port

ROOT = Path(__file__).resolve().parents[3]
MANIFESTS = ROOT / "manifests"
CRD_NAME = "modeldeployments.vigia.dev"
OPERATOR_NAMESPACE = "vigia-system"
OPERATOR_ACCOUNT = "vigia-operator"
# A digest for s3:// models in tests: the operator needs one (the trust anchor); kwok pods
# never load the bundle.
ANY_DIGEST = "sha256:" + "0" * 64


def install(kubeconfig: Path) -> None:
    """The CRD and the operator's RBAC, as shipped."""
    kubectl(kubeconfig, "apply", "-k", str(MANIFESTS / "crd"))
    kubectl(kubeconfig, "apply", "-k", str(MANIFESTS / "rbac"))
    kubectl(kubeconfig, "wait", "--for=condition=Established", f"crd/{CRD_NAME}",
            "--timeout=60s")


def grant_secrets(kubeconfig: Path, namespace: str, secrets: Sequence[str],
                  account_namespace: str = OPERATOR_NAMESPACE,
                  account: str = OPERATOR_ACCOUNT) -> None:
    """What a namespace gives the operator for its models' Secrets, as shipped
    (manifests/samples/secret-grant.yaml): get on ``secrets``, by name."""
    role, binding = yaml.safe_load_all((MANIFESTS / "samples" / "secret-grant.yaml").read_text())
    role["rules"][0]["resourceNames"] = list(secrets)
    binding["subjects"][0].update(name=account, namespace=account_namespace)
    for obj in (role, binding):
        obj["metadata"]["namespace"] = namespace
    kubectl(kubeconfig, "apply", "-f", "-",
            input=json.dumps({"apiVersion": "v1", "kind": "List", "items": [role, binding]}))


def operator_kubeconfig(admin: Path, out: Path, hours: int = 4) -> Path:
    """A kubeconfig that authenticates as the operator's ServiceAccount (a minted token)."""
    token = kubectl(admin, "create", "token", OPERATOR_ACCOUNT, "-n", OPERATOR_NAMESPACE,
                    f"--duration={hours}h").strip()
    view = json.loads(kubectl(admin, "config", "view", "--raw", "--minify", "-o", "json"))
    cluster = dict(view["clusters"][0]["cluster"])
    if "certificate-authority" in cluster:  # a path: inline it so the file stands alone
        ca = Path(cluster.pop("certificate-authority")).read_bytes()
        cluster["certificate-authority-data"] = base64.b64encode(ca).decode()
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "cluster", "cluster": cluster}],
        "users": [{"name": OPERATOR_ACCOUNT, "user": {"token": token}}],
        "contexts": [{"name": "operator",
                      "context": {"cluster": "cluster", "user": OPERATOR_ACCOUNT}}],
        "current-context": "operator",
    }
    out.write_text(yaml.safe_dump(config))
    out.chmod(0o600)
    return out


class OperatorProcess:
    """`python3 -m vigia_operator`, started and stopped by process id."""

    def __init__(self, kubeconfig: Path, log: Path, namespaces: Sequence[str] = (),
                 env: Mapping[str, str] | None = None, module: str = "vigia_operator") -> None:
        """No namespaces: every namespace, as deployed. Tests pass their own namespace so
        that test sessions sharing a cluster never reconcile each other's objects. ``env``:
        VIGIA_OPERATOR_* settings."""
        self.kubeconfig = kubeconfig
        self.env = dict(env or {})
        self.module = module  # run as `python3 -m <module>`
        self.namespaces = list(namespaces)
        self.log_path = log
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0

    def start(self, timeout: float = 60) -> None:
        self.port = free_port()
        # PYTHONPATH (tests/conftest.py) makes it this checkout's operator.
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig), "PYTHONUNBUFFERED": "1",
               **self.env}
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", self.module,
                 f"--liveness=http://127.0.0.1:{self.port}/healthz",
                 *(f"--namespace={n}" for n in self.namespaces)],
                stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT,
            )
        wait_for(self._healthy, timeout, f"operator liveness (log: {self.log_path})")

    def _healthy(self) -> bool:
        if self.process is None or self.process.poll() is not None:
            raise RuntimeError(f"operator exited; log:\n{self.log()[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def kill(self) -> None:
        """SIGKILL: no cleanup, as when a node dies."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        self.process = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        self.process = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def probes(self) -> dict[str, Any]:
        """kopf's liveness response: the operator's probes (e.g. apiCalls)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=5) as r:
            return dict(json.loads(r.read() or b"{}"))

    def rss_bytes(self) -> int:
        """Resident memory of the operator process, from /proc."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS")


def model_deployment(name: str, uri: str = "file:///models/sobaos/1",
                     digest: str | None = None, **spec: Any) -> dict[str, Any]:
    """A ModelDeployment; an s3:// one gets a digest unless ``digest`` is given."""
    model = {"uri": uri}
    if digest or uri.startswith("s3://"):
        model["digest"] = digest or ANY_DIGEST
    return {
        "apiVersion": "vigia.dev/v1alpha1",
        "kind": "ModelDeployment",
        "metadata": {"name": name},
        "spec": {"model": model, **spec},
    }


def wait_ready(kubeconfig: Path, namespace: str, name: str, timeout: float = 120) -> dict[str, Any]:
    def ready() -> dict[str, Any] | None:
        md = json.loads(kubectl(kubeconfig, "get", "md", name, "-n", namespace, "-o", "json"))
        status = md.get("status") or {}
        conds = {c["type"]: c["status"] for c in status.get("conditions") or []}
        if (conds.get("Ready") == "True"
                and status.get("observedGeneration") == md["metadata"]["generation"]):
            return dict(md)
        return None

    try:
        return wait_for(ready, timeout, f"ModelDeployment {namespace}/{name} Ready")
    except AssertionError as error:
        raise AssertionError(f"{error}\n{_diagnosis(kubeconfig, namespace)}") from None


def _diagnosis(kubeconfig: Path, namespace: str) -> str:
    """What a timed-out wait saw, briefest first: CI output keeps only the start of a long
    message."""
    def table(kind: str, columns: str) -> str:
        return kubectl(kubeconfig, "get", kind, "-n", namespace, "-o",
                       f"custom-columns={columns}")

    pods = table("pods", "NAME:.metadata.name,NODE:.spec.nodeName,PHASE:.status.phase,"
                         "READY:.status.conditions[?(@.type=='Ready')].status,"
                         "READY_WHY:.status.conditions[?(@.type=='Ready')].reason,"
                         "WHY:.status.conditions[?(@.type=='PodScheduled')].message")
    deployments = table("deployments", "NAME:.metadata.name,WANT:.spec.replicas,"
                                       "READY:.status.readyReplicas,"
                                       "AVAILABLE:.status.availableReplicas")
    events = kubectl(kubeconfig, "get", "events", "-n", namespace,
                     "--sort-by=.lastTimestamp")
    full = kubectl(kubeconfig, "get", "md,deployments", "-n", namespace, "-o", "yaml")
    nodes = kubectl(kubeconfig, "get", "nodes")
    return f"{pods}\n{deployments}\n{nodes}\n{events[-3000:]}\n{full}"


def wait_stable(kubeconfig: Path, namespace: str, name: str, version: str,
                timeout: float = 90) -> dict[str, Any]:
    """The ModelDeployment once status.stable names ``version`` (a promotion completed)."""
    def promoted() -> dict[str, Any] | None:
        md = json.loads(kubectl(kubeconfig, "get", "md", name, "-n", namespace, "-o", "json"))
        stable = (md.get("status") or {}).get("stable") or {}
        return dict(md) if stable.get("version") == version else None

    try:
        return wait_for(promoted, timeout, f"{namespace}/{name} promoted to version {version}")
    except AssertionError as error:
        raise AssertionError(f"{error}\n{_rollout_state(kubeconfig, namespace, name)}") from None


def _rollout_state(kubeconfig: Path, namespace: str, name: str) -> str:
    """The ModelDeployment's rollout status and its Deployments' replicas, for a timeout."""
    md = json.loads(kubectl(kubeconfig, "get", "md", name, "-n", namespace, "-o", "json"))
    status = md.get("status") or {}
    said = [f"status: {json.dumps({k: status.get(k) for k in ('stable', 'canary', 'conditions')})}"]
    for track in ("stable", "canary"):
        deployment = json.loads(kubectl(kubeconfig, "get", "deployment", f"{name}-{track}",
                                        "-n", namespace, "-o", "json"))
        said.append(f"{track}: generation {deployment['metadata'].get('generation')}, "
                    f"paused {deployment['spec'].get('paused')}, "
                    f"replicas {deployment['spec'].get('replicas')}, "
                    f"status {json.dumps(deployment.get('status'))}")
    return "\n".join(said)
