"""The binaries built from upstream sources report their versions and work against the cluster."""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path

import pytest
from vigia_devcluster import binaries
from vigia_testbed.kube import kubectl

pytestmark = pytest.mark.integration

COMPONENTS = ["kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet",
              "kube-proxy"]


def run(*argv: str | Path) -> str:
    result = subprocess.run([str(a) for a in argv], capture_output=True, text=True, check=True)
    return result.stdout + result.stderr


@pytest.mark.parametrize("component", COMPONENTS)
def test_every_component_reports_the_pinned_kubernetes_version(component: str) -> None:
    version = binaries.versions()["KUBE_VERSION"]
    assert run(binaries.path_of(component), "--version").strip() == f"Kubernetes {version}"


def test_etcd_reports_its_version() -> None:
    version = binaries.versions()["ETCD_VERSION"].removeprefix("v")
    assert f"etcd Version: {version}" in run(binaries.path_of("etcd"), "--version")


def test_kubectl_talks_to_the_cluster(kubeconfig: Path) -> None:
    versions = json.loads(kubectl(kubeconfig, "version", "-o", "json"))
    assert versions["clientVersion"]["gitVersion"] == binaries.versions()["KUBE_VERSION"]
    assert versions["serverVersion"]["major"] == "1"
    names = kubectl(kubeconfig, "get", "namespaces", "-o", "name").split()
    assert "namespace/kube-system" in names


def test_helm_installs_a_chart_into_the_cluster(
    kubeconfig: Path, namespace: str, tmp_path: Path
) -> None:
    helm = binaries.helm_path()
    assert binaries.versions()["HELM_VERSION"] in run(helm, "version", "--short")
    chart = tmp_path / "hello"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: hello\nversion: 0.1.0\n")
    (chart / "values.yaml").write_text("greeting: hola\n")
    (chart / "templates" / "configmap.yaml").write_text(textwrap.dedent("""\
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: {{ .Release.Name }}-greeting
        data:
          greeting: {{ .Values.greeting | quote }}
        """))
    env = ["--kubeconfig", str(kubeconfig), "--namespace", namespace]

    run(helm, "install", "hi", chart, "--set", "greeting=buenas", "--wait", *env)

    data = json.loads(kubectl(kubeconfig, "get", "configmap", "hi-greeting", "-n", namespace,
                              "-o", "json"))["data"]
    assert data == {"greeting": "buenas"}
    releases = json.loads(run(helm, "list", "-o", "json", *env))
    assert [(r["name"], r["status"]) for r in releases] == [("hi", "deployed")]
    run(helm, "uninstall", "hi", "--wait", *env)
    assert "hi-greeting" not in kubectl(kubeconfig, "get", "configmaps", "-n", namespace)
