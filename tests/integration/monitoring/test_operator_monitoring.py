"""The operator on the real control plane, monitoring through a real Prometheus that scrapes
real model-server processes (file_sd): status.monitoring, conditions, Events, printer
columns; Prometheus stopped and back."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.kube import kubectl, wait_for
from tests.integration.monitoring.conftest import (
    FEW_ROWS,
    SHIFTED_FEATURES,
    STEADY_FEATURES,
    Fleet,
    start_fleet,
)
from tests.integration.operator.harness import (
    OperatorProcess,
    install,
    model_deployment,
    operator_kubeconfig,
)

TICK_S = 3
MONITORING = {"window": "5m", "drift": {"minSamples": 200}, "accuracy": {"minFeedback": 50}}


@pytest.fixture(scope="module")
def monitored(kubeconfig: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[
        tuple[str, Fleet, Path]]:
    install(kubeconfig)
    namespace = f"t-monitoring-{uuid.uuid4().hex[:6]}"
    kubectl(kubeconfig, "create", "namespace", namespace)
    work = tmp_path_factory.mktemp("operator-monitoring")
    try:
        keys = [(namespace, name) for name in ("steady", "shifted", "quiet")]
        with start_fleet(work, *keys) as fleet:
            for name in ("steady", "shifted", "quiet"):
                body = model_deployment(name, monitoring=MONITORING)
                kubectl(kubeconfig, "apply", "-n", namespace, "-f", "-",
                        input=json.dumps(body))
            config = operator_kubeconfig(kubeconfig, work / "kubeconfig")
            operator = OperatorProcess(config, work / "operator.log", [namespace], env={
                "VIGIA_OPERATOR_TICK_SECONDS": str(TICK_S),
                "VIGIA_OPERATOR_PROMETHEUS_URL": fleet.prometheus.url,
            })
            operator.start()
            try:
                yield namespace, fleet, kubeconfig
            finally:
                operator.stop()
                log = operator.log()
                assert "Traceback" not in log, log[-4000:]
    finally:
        kubectl(kubeconfig, "delete", "namespace", namespace, "--wait=false")


def md(kubeconfig: Path, namespace: str, name: str) -> dict[str, Any]:
    return dict(json.loads(kubectl(kubeconfig, "get", "md", name, "-n", namespace, "-o", "json")))


def condition(body: dict[str, Any], type_: str) -> dict[str, Any]:
    found = [c for c in (body.get("status") or {}).get("conditions") or [] if c["type"] == type_]
    return found[0] if found else {}


def wait_condition(kubeconfig: Path, namespace: str, name: str, type_: str, status: str,
                   timeout: float = 4 * TICK_S + 30) -> dict[str, Any]:
    def reached() -> dict[str, Any] | None:
        body = md(kubeconfig, namespace, name)
        return body if condition(body, type_).get("status") == status else None
    return wait_for(reached, timeout, f"{namespace}/{name} {type_}={status}")


def test_drift_accuracy_and_insufficient_data_reach_status(
        monitored: tuple[str, Fleet, Path]) -> None:
    namespace, _, kubeconfig = monitored
    shifted = wait_condition(kubeconfig, namespace, "shifted", "Drifted", "True")
    features = set(shifted["status"]["monitoring"]["drift"]["features"])
    assert features >= {"ambient_temperature", "line_speed"}
    assert features <= SHIFTED_FEATURES | {"flour_supplier"} and not features & STEADY_FEATURES
    assert "ambient_temperature (" in condition(shifted, "Drifted")["message"]
    low = wait_condition(kubeconfig, namespace, "shifted", "AccuracyLow", "True")
    assert "accuracy 0.000" in condition(low, "AccuracyLow")["message"]
    steady = wait_condition(kubeconfig, namespace, "steady", "Drifted", "False")
    assert condition(steady, "AccuracyLow")["status"] == "False"
    assert steady["status"]["monitoring"]["accuracy"] == 1.0
    quiet = wait_condition(kubeconfig, namespace, "quiet", "Drifted", "Unknown")
    assert condition(quiet, "Drifted")["reason"] == "InsufficientData"
    assert "predictions over 5m; drift needs 200" in condition(quiet, "Drifted")["message"]
    assert quiet["status"]["monitoring"]["samples"]["predictions"] <= FEW_ROWS + 5


def test_transitions_are_events_and_columns_show_drift_and_accuracy(
        monitored: tuple[str, Fleet, Path]) -> None:
    namespace, _, kubeconfig = monitored
    wait_condition(kubeconfig, namespace, "shifted", "Drifted", "True")
    events = json.loads(kubectl(kubeconfig, "get", "events", "-n", namespace, "-o", "json",
                                "--field-selector", "involvedObject.name=shifted"))["items"]
    reasons = [e["reason"] for e in events]
    assert reasons.count("FeaturesDrifted") == 1, reasons  # once, on the transition
    table = kubectl(kubeconfig, "get", "md", "shifted", "-n", namespace)
    header, row = table.splitlines()[:2]
    assert "DRIFT" in header and "ACCURACY" in header
    assert "0" in row.split()[header.split().index("ACCURACY")]


def test_prometheus_down_is_unknown_then_recovers(monitored: tuple[str, Fleet, Path]) -> None:
    namespace, fleet, kubeconfig = monitored
    wait_condition(kubeconfig, namespace, "shifted", "Drifted", "True")
    fleet.prometheus.stop()
    try:
        down = wait_condition(kubeconfig, namespace, "shifted", "Drifted", "Unknown")
        assert condition(down, "Drifted")["reason"] == "PrometheusUnavailable"
        assert down["status"]["monitoring"]["state"] == "Unknown"
        # The last numbers stay, marked by the time they were measured.
        assert down["status"]["monitoring"]["drift"]["features"]
    finally:
        fleet.prometheus.start()
    wait_condition(kubeconfig, namespace, "shifted", "Drifted", "True", timeout=90)
