"""Fixtures of the chart's integration tests: the CRDs the chart's objects need (its own and
the Prometheus Operator's), installed in the session's cluster. The ModelDeployment CRD is
applied from manifests/crd, owned by no release: tests that install the chart leave it to
the cluster (crds.enabled=false) unless the CRD's own lifecycle is what they test."""

from __future__ import annotations

from pathlib import Path

import pytest
from vigia_testbed.kube import kubectl

from tests.fixtures.helm import CRD_FILE, prometheus_operator_crds

PROMETHEUS_KINDS = ("podmonitors", "servicemonitors", "prometheusrules")


@pytest.fixture(scope="session")
def crds(kubeconfig: Path) -> Path:
    """The chart's CRD and the Prometheus Operator's PodMonitor, ServiceMonitor and
    PrometheusRule CRDs (from its Go module), established."""
    kubectl(kubeconfig, "apply", "--server-side", "--force-conflicts", "-f", str(CRD_FILE))
    names = [CRD_FILE.stem]
    for kind in PROMETHEUS_KINDS:
        name = f"{kind}.monitoring.coreos.com"
        if kubectl(kubeconfig, "get", "crd", name, "--ignore-not-found", "-o", "name").strip():
            names.append(name)  # a cluster with the Prometheus Operator: keep its own
            continue
        path = prometheus_operator_crds() / f"monitoring.coreos.com_{kind}.yaml"
        kubectl(kubeconfig, "apply", "--server-side", "-f", str(path), timeout=300)
        names.append(name)
    kubectl(kubeconfig, "wait", "--for=condition=Established", "--timeout=60s",
            *(f"crd/{n}" for n in names))
    return kubeconfig
