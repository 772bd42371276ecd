"""Running what the chart deploys, as it would run in the cluster, where no real node runs it.

On the local cluster the chart's pods land on kwok fake nodes: kwok reports them Running and
Ready, but nothing runs. To test the chart's behaviour for real there, the operator runs as a
local process started from the installed Deployment (its command, arguments and environment)
and authenticated as the chart's ServiceAccount; the helm test scripts run the same way, as
the test ServiceAccount. Where the operator's pod is on a real node, it runs itself.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import yaml
from vigia_testbed.kube import kubectl, wait_for
from vigia_testbed.net import free_port

from tests.fixtures.helm import CHART, Obj, container

# A bundle the model servers can read: the sample path on the local cluster (kwok pods never
# load it); on a real cluster ($KUBECONFIG) set it to one they can reach.
MODEL_URI = os.environ.get("VIGIA_TEST_MODEL_URI", "file:///models/sobaos/1")
FAKE_NODE_ANNOTATION = ("kwok.x-k8s.io/node", "fake")
LIVENESS_FLAG = "--liveness="


def account_kubeconfig(admin: Path, namespace: str, account: str, out: Path) -> Path:
    """A kubeconfig holding only a token of ServiceAccount namespace/account."""
    token = kubectl(admin, "create", "token", account, "-n", namespace,
                    "--duration=2h").strip()
    view = json.loads(kubectl(admin, "config", "view", "--raw", "--minify", "-o", "json"))
    cluster = dict(view["clusters"][0]["cluster"])
    if "certificate-authority" in cluster:  # a path: inline it so the file stands alone
        ca = Path(cluster.pop("certificate-authority")).read_bytes()
        cluster["certificate-authority-data"] = base64.b64encode(ca).decode()
    config = {
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "cluster", "cluster": cluster}],
        "users": [{"name": account, "user": {"token": token}}],
        "contexts": [{"name": account, "context": {"cluster": "cluster", "user": account}}],
        "current-context": account,
    }
    out.write_text(yaml.safe_dump(config))
    out.chmod(0o600)
    return out


def get(kubeconfig: Path, namespace: str, *what: str) -> Obj:
    result: Obj = json.loads(kubectl(kubeconfig, "get", *what, "-n", namespace, "-o", "json"))
    return result


def operator_pod_is_fake(kubeconfig: Path, namespace: str, selector: str) -> bool:
    """Whether the operator's pod was scheduled on a kwok fake node (nothing runs there)."""
    pods = get(kubeconfig, namespace, "pods", "-l", selector)["items"]
    running = [p for p in pods if p["spec"].get("nodeName") and
               not p["metadata"].get("deletionTimestamp")]
    assert running, f"no scheduled operator pod: {pods}"
    node = json.loads(kubectl(kubeconfig, "get", "node", running[0]["spec"]["nodeName"],
                              "-o", "json"))
    key, value = FAKE_NODE_ANNOTATION
    return bool((node["metadata"].get("annotations") or {}).get(key) == value)


def plain_env(spec: Obj) -> dict[str, str]:
    return {e["name"]: e["value"] for e in spec.get("env", []) if "value" in e}


class DeployedProcess:
    """A process started from a container spec of the chart, on this machine."""

    def __init__(self, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.argv, self.env, self.log_path = argv, env, log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        # PYTHONPATH (tests/conftest.py) makes it this checkout's code.
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT,
                                            env={**os.environ, **self.env})

    def wait(self, timeout: float) -> int:
        assert self.process is not None
        return self.process.wait(timeout=timeout)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.process = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class LocalOperator(DeployedProcess):
    """The installed operator Deployment's container, run here as the chart's ServiceAccount:
    same command, arguments (the probe moved to a free loopback port) and environment."""

    def __init__(self, deployment: Obj, kubeconfig: Path, log: Path) -> None:
        spec = container(deployment, "operator")
        self.port = free_port()
        args = [f"{LIVENESS_FLAG}http://127.0.0.1:{self.port}/healthz"
                if a.startswith(LIVENESS_FLAG) else a for a in spec.get("args", [])]
        command = [sys.executable if c == "python3" else c for c in spec["command"]]
        env = {**plain_env(spec), "KUBECONFIG": str(kubeconfig), "HOME": str(log.parent)}
        super().__init__([*command, *args], env, log)

    @property
    def health_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/healthz"

    def start(self) -> None:
        super().start()
        wait_for(self._healthy, 60, f"local operator liveness (log: {self.log_path})")

    def _healthy(self) -> bool:
        if self.process is None or self.process.poll() is not None:
            raise RuntimeError(f"operator exited; log:\n{self.log()[-3000:]}")
        try:
            with urllib.request.urlopen(self.health_url, timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False


def run_test_script(job: Obj, env: dict[str, str], log: Path, timeout: float) -> tuple[int, str]:
    """A helm test Job's script (from the chart's files/tests), with the Job's environment
    plus `env`; returns its exit code and output."""
    spec = job["spec"]["template"]["spec"]["containers"][0]
    script = CHART / "files" / "tests" / Path(spec["command"][-1]).name
    process = DeployedProcess([sys.executable, str(script)], {**plain_env(spec), **env}, log)
    process.start()
    try:
        code = process.wait(timeout)
    finally:
        process.stop()
    return code, process.log()


def model_deployment(name: str, uri: str = MODEL_URI) -> dict[str, Any]:
    return {"apiVersion": "vigia.dev/v1alpha1", "kind": "ModelDeployment",
            "metadata": {"name": name}, "spec": {"model": {"uri": uri}}}
