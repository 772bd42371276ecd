"""The operator on the real control plane, monitoring through the built Prometheus, which
scrapes real model-server processes (file_sd; kwok's pods run nothing, so the servers whose
metrics the operator judges run locally, labelled with the ModelDeployments' namespace and
names): status.monitoring, conditions, Events, printer columns, the operator's /metrics;
Prometheus stopped and back.

Three ModelDeployments in one namespace: ``steady`` (stationary traffic, feedback agreeing
with every prediction, a KPI within bounds), ``shifted`` (drifted traffic, feedback
contradicting every prediction, a KPI out of bounds), ``quiet`` (40 predictions).
"""

from __future__ import annotations

import json
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from vigia_operator.core import reasons
from vigia_operator.prometheus.queries import RULE_WINDOWS, queries_for
from vigia_testbed.kube import kubectl, wait_for
from vigia_testbed.net import free_port
from vigia_testbed.operator import (
    OperatorProcess,
    install,
    model_deployment,
    operator_kubeconfig,
)

from tests.integration.monitoring.conftest import (
    FEW_ROWS,
    FLEET_VERSION,
    ROWS,
    SHIFTED_FEATURES,
    STEADY_FEATURES,
    Fleet,
    start_fleet,
)
from vigia.costs import figure

TICK_S = 3
WINDOW = "5m"  # not a rule window: the operator's queries are inlined, no rule lag
MONITORING = {"window": WINDOW, "interval": "10s", "drift": {"minSamples": 200},
              "accuracy": {"minFeedback": 50}}
# Generous: a loaded machine slows the first reconcile; the tick count is what is asserted.
WAIT_S = 90


NAMES = ("steady", "shifted", "quiet")


def predictions_kpi(namespace: str, name: str, bound: str, value: int) -> dict[str, Any]:
    selector = f'namespace="{namespace}",model="{name}"'
    query = f"sum(increase(vigia_predictions_total{{{selector}}}[{WINDOW}]))"
    return {"name": "predictions", "query": query, bound: value}


# A first-class item predicted as the second costs 10, the other way 1 (classes of the
# sample model, in its order: the fleet's feedback on "shifted" contradicts every prediction).
COST_UNIT = "EUR per 1,000 cakes"
COST_MAX = 300


def costs(classes: list[str]) -> dict[str, Any]:
    first, second = classes
    return {"unit": COST_UNIT, "max": COST_MAX, "errors": [
        {"predicted": second, "actual": first, "cost": 10},
        {"predicted": first, "actual": second, "cost": 1}]}


def monitoring_spec(namespace: str, name: str, classes: list[str]) -> dict[str, Any]:
    kpis = {"steady": [predictions_kpi(namespace, name, "min", 100)],
            "shifted": [predictions_kpi(namespace, name, "max", 100)]}.get(name)
    spec = {**MONITORING, "kpis": kpis} if kpis else MONITORING
    return {**spec, "costs": costs(classes)}


@dataclass
class Monitored:
    namespace: str
    fleet: Fleet
    kubeconfig: Path
    operator: OperatorProcess
    metrics_port: int

    def md(self, name: str) -> dict[str, Any]:
        return dict(json.loads(kubectl(self.kubeconfig, "get", "md", name, "-n",
                                       self.namespace, "-o", "json")))

    def wait(self, name: str, type_: str, status: str, timeout: float = WAIT_S,
             reason: str | None = None) -> dict[str, Any]:
        def reached() -> dict[str, Any] | None:
            body = self.md(name)
            found = condition(body, type_)
            if found.get("status") == status and reason in (None, found.get("reason")):
                return body
            return None
        return wait_for(reached, timeout, f"{self.namespace}/{name} {type_}={status}"
                        f" (operator log: {self.operator.log_path})")

    def events(self, name: str) -> list[str]:
        listed = json.loads(kubectl(self.kubeconfig, "get", "events", "-n", self.namespace,
                                    "-o", "json", "--field-selector",
                                    f"involvedObject.name={name}"))["items"]
        return [e["reason"] for e in listed for _ in range(e.get("count") or 1)]

    def metrics(self) -> dict[str, float]:
        """The operator's /metrics, as {"name{label=value,...}": value}."""
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            text = response.read().decode()
        found = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
                found[f"{sample.name}{{{labels}}}"] = sample.value
        return found

    def ticks(self) -> int:
        return int(self.metrics().get("vigia_operator_tick_duration_seconds_count{}", 0))


def condition(body: dict[str, Any], type_: str) -> dict[str, Any]:
    found = [c for c in (body.get("status") or {}).get("conditions") or []
             if c["type"] == type_]
    return found[0] if found else {}


@pytest.fixture(scope="module")
def monitored(kubeconfig: Path, tmp_path_factory: pytest.TempPathFactory
              ) -> Iterator[Monitored]:
    install(kubeconfig)
    namespace = f"t-monitoring-{uuid.uuid4().hex[:6]}"
    kubectl(kubeconfig, "create", "namespace", namespace)
    work = tmp_path_factory.mktemp("operator-monitoring")
    keys = [(namespace, name) for name in NAMES]
    try:
        with start_fleet(work, *keys) as fleet:
            # Every prediction sent is in Prometheus before the operator starts, so the
            # first tick already has the whole traffic to judge.
            total = 2 * ROWS + FEW_ROWS
            fleet.prometheus.wait_for(
                f'sum(vigia_predictions_total{{namespace="{namespace}"}}) >= {total}')
            for name in NAMES:
                body = model_deployment(
                    name, monitoring=monitoring_spec(namespace, name, fleet.classes))
                body["spec"]["model"]["version"] = FLEET_VERSION  # judged on its own series
                kubectl(kubeconfig, "apply", "-n", namespace, "-f", "-",
                        input=json.dumps(body))
            port = free_port()
            operator = OperatorProcess(
                operator_kubeconfig(kubeconfig, work / "kubeconfig"), work / "operator.log",
                [namespace], env={
                    "VIGIA_OPERATOR_TICK_SECONDS": str(TICK_S),
                    "VIGIA_OPERATOR_PROMETHEUS_URL": fleet.prometheus.url,
                    "VIGIA_OPERATOR_METRICS_PORT": str(port),
                })
            operator.start()
            try:
                yield Monitored(namespace, fleet, kubeconfig, operator, port)
            finally:
                operator.stop()
                log = operator.log()
                # A status write the API server refuses is a warning in the log, not a crash.
                assert "422 Invalid" not in log, log[-4000:]
                assert "Traceback" not in log, log[-4000:]
    finally:
        kubectl(kubeconfig, "delete", "namespace", namespace, "--wait=false")


def test_shifted_traffic_is_drifted_within_two_ticks_naming_the_features(
        monitored: Monitored) -> None:
    shifted = monitored.wait("shifted", reasons.DRIFTED, "True")
    # The operator counts its ticks as it collects (before it writes): at most two
    # collections happened before the status read that shows Drifted.
    assert monitored.ticks() <= 2
    section = shifted["status"]["monitoring"]
    drifted = set(section["drift"]["features"])
    assert drifted >= {"ambient_temperature", "line_speed"}
    # The flour supplier mix moves with the drift too; the stationary features never.
    assert drifted <= SHIFTED_FEATURES | {"flour_supplier"} and not drifted & STEADY_FEATURES
    scores = section["drift"]["scores"]
    assert set(scores) >= SHIFTED_FEATURES | STEADY_FEATURES
    assert all(scores[f] > 0.2 for f in drifted)
    assert all(scores[f] <= 0.2 for f in STEADY_FEATURES)
    assert section["drift"]["score"] == max(scores.values())
    assert section["state"] == "Degraded" and section["window"] == WINDOW
    assert abs(section["samples"]["predictions"] - ROWS) <= 0.08 * ROWS
    message = condition(shifted, reasons.DRIFTED)["message"]
    worst = section["drift"]["features"][0]
    assert f"{worst} ({scores[worst]:.3f})" in message
    assert condition(shifted, reasons.DRIFTED)["reason"] == reasons.FEATURES_DRIFTED


def test_wrong_feedback_is_accuracy_low_with_the_numbers(monitored: Monitored) -> None:
    shifted = monitored.wait("shifted", reasons.ACCURACY_LOW, "True")
    low = condition(shifted, reasons.ACCURACY_LOW)
    assert low["reason"] == reasons.ACCURACY_BELOW_MIN
    assert "accuracy 0.000 from" in low["message"] and "(minimum 0.85)" in low["message"]
    section = shifted["status"]["monitoring"]
    assert section["accuracy"] == 0.0
    assert abs(section["feedback"] - ROWS) <= 0.08 * ROWS
    # Every class truly present was never found: recall 0 from the confusion counters.
    assert section["classes"] and all(c["recall"] == 0.0 for c in section["classes"])
    kpi = condition(shifted, reasons.KPI_VIOLATED)
    assert kpi["status"] == "True" and "predictions = " in kpi["message"]
    assert section["kpis"][0]["violated"] is True


def test_costly_errors_are_cost_high_in_the_business_unit(monitored: Monitored) -> None:
    shifted = monitored.wait("shifted", reasons.COST_HIGH, "True")
    high = condition(shifted, reasons.COST_HIGH)
    assert high["reason"] == reasons.COST_ABOVE_MAX
    # Every prediction was wrong: a first-class one predicted as the second costs 10.
    first, second = monitored.fleet.classes
    model = monitored.fleet.models[(monitored.namespace, "shifted")]
    predicted = [p["class"] for p in model.predictions]
    expected = 1000 * (10 * predicted.count(second) + predicted.count(first)) / len(predicted)
    cost = shifted["status"]["monitoring"]["cost"]
    assert cost["unit"] == COST_UNIT and cost["max"] == COST_MAX
    assert abs(cost["value"] - expected) <= 0.05 * expected, (cost, expected)
    assert cost["low"] <= cost["value"] <= cost["high"]
    assert f"expected cost {figure(cost['value'])} {COST_UNIT}" in high["message"]
    assert f"(maximum {COST_MAX})" in high["message"]
    assert reasons.COST_ABOVE_MAX in monitored.events("shifted")
    gauge = (f"vigia_operator_cost_per_thousand{{model=shifted,namespace={monitored.namespace},"
             f"unit={COST_UNIT}}}")
    assert abs(monitored.metrics()[gauge] - expected) <= 0.05 * expected
    steady = monitored.wait("steady", reasons.COST_HIGH, "False")
    assert condition(steady, reasons.COST_HIGH)["reason"] == reasons.COST_OK
    assert steady["status"]["monitoring"]["cost"]["value"] == 0.0


def test_confidence_is_judged_against_the_models_own_holdout(monitored: Monitored) -> None:
    """The servers export the bundle's holdout confidence (binned at bundle time); the
    operator tests the live histogram against it, with both sample sizes."""
    steady = monitored.wait("steady", reasons.CONFIDENCE_SHIFT, "False")
    assert condition(steady, reasons.CONFIDENCE_SHIFT)["reason"] == reasons.CONFIDENCE_STEADY
    shift = steady["status"]["monitoring"]["confidence"]["shift"]
    assert (shift["referenceRows"] > 0 and shift["pValue"] >= shift["alpha"]) or (
        shift["psi"] < shift["minPsi"])
    said = condition(steady, reasons.CONFIDENCE_SHIFT)["message"]
    assert f"on {shift['referenceRows']} holdout rows" in said
    shifted = monitored.wait("shifted", reasons.CONFIDENCE_SHIFT, "True")
    moved = shifted["status"]["monitoring"]["confidence"]["shift"]
    assert moved["pValue"] < moved["alpha"] and moved["psi"] >= moved["minPsi"]
    assert condition(shifted, reasons.CONFIDENCE_SHIFT)["message"].startswith(
        f"confidence {moved['direction']}: binned mean {moved['liveMean']:.3f} against "
        f"{moved['referenceMean']:.3f}")
    assert reasons.CONFIDENCE_SHIFTED in monitored.events("shifted")


def test_stationary_traffic_stays_clean(monitored: Monitored) -> None:
    steady = monitored.wait("steady", reasons.DRIFTED, "False")
    start = monitored.ticks()
    wait_for(lambda: monitored.ticks() >= start + 3, WAIT_S, "three more ticks")
    steady = monitored.md("steady")
    section = steady["status"]["monitoring"]
    assert section["state"] == "Healthy", section
    assert section["drift"]["features"] == []
    assert section["drift"]["score"] <= 0.2
    assert section["accuracy"] == 1.0
    assert section["classes"] and all(
        c["recall"] == 1.0 and c["precision"] == 1.0 for c in section["classes"])
    assert condition(steady, reasons.DRIFTED)["reason"] == reasons.NO_DRIFT
    assert condition(steady, reasons.ACCURACY_LOW)["status"] == "False"
    assert condition(steady, reasons.KPI_VIOLATED)["status"] == "False"
    assert "highest PSI" in condition(steady, reasons.DRIFTED)["message"]
    # Never flagged on the way, not on any tick.
    monitoring_reasons = {reasons.FEATURES_DRIFTED, reasons.ACCURACY_BELOW_MIN,
                          reasons.KPIS_VIOLATED, reasons.CONFIDENCE_BELOW_MIN}
    assert not set(monitored.events("steady")) & monitoring_reasons
    gauges = monitored.metrics()
    key = f"model=steady,namespace={monitored.namespace}"
    assert gauges[f"vigia_operator_accuracy{{{key}}}"] == 1.0
    assert gauges[f"vigia_operator_monitoring_state{{condition=Drifted,{key}}}"] == 0.0


def test_too_little_traffic_is_insufficient_data_with_the_counts(monitored: Monitored) -> None:
    quiet = monitored.wait("quiet", reasons.DRIFTED, "Unknown")
    drift = condition(quiet, reasons.DRIFTED)
    assert drift["reason"] == reasons.INSUFFICIENT_DATA
    assert f"predictions of version {FLEET_VERSION} over {WINDOW}; drift needs 200" in (
        drift["message"])
    accuracy = condition(quiet, reasons.ACCURACY_LOW)
    assert accuracy["reason"] == reasons.INSUFFICIENT_DATA
    assert f"0 feedback labels of version {FLEET_VERSION} over {WINDOW}; accuracy needs 50" in (
        accuracy["message"])
    section = quiet["status"]["monitoring"]
    assert section["state"] == "InsufficientData"
    assert 0 < section["samples"]["predictions"] <= FEW_ROWS + 5
    assert f"{section['samples']['predictions']} predictions" in drift["message"]


def test_transitions_are_events_and_columns_show_drift_and_accuracy(
        monitored: Monitored) -> None:
    monitored.wait("shifted", reasons.DRIFTED, "True")
    start = monitored.ticks()
    wait_for(lambda: monitored.ticks() >= start + 2, WAIT_S, "two more ticks")
    found = monitored.events("shifted")
    # Once each, on the transition, however many ticks confirmed it.
    assert found.count(reasons.FEATURES_DRIFTED) == 1, found
    assert found.count(reasons.ACCURACY_BELOW_MIN) == 1, found
    table = kubectl(monitored.kubeconfig, "get", "md", "-n", monitored.namespace)
    header, *rows = table.splitlines()
    columns = {name: header.index(name) for name in ("NAME", "DRIFT", "ACCURACY", "PHASE")}

    def cell(row: str, name: str) -> str:
        return row[columns[name]:].split()[0]

    by_name = {cell(row, "NAME"): row for row in rows}
    assert float(cell(by_name["shifted"], "ACCURACY")) == 0.0
    assert float(cell(by_name["shifted"], "DRIFT")) > 0.2
    assert float(cell(by_name["steady"], "ACCURACY")) == 1.0
    metrics = monitored.metrics()
    asked = sum(v for k, v in metrics.items()
                if k.startswith("vigia_operator_prometheus_queries_total{"))
    ticks = metrics["vigia_operator_tick_duration_seconds_count{}"]
    # The same queries on every evaluating tick for all three models (their 10s interval is
    # due on the same ticks: created together); KPIs are one query each.
    per_tick = len(queries_for({WINDOW}, RULE_WINDOWS)) + 2
    assert asked == per_tick * ticks


def test_prometheus_down_is_unknown_then_recovers(monitored: Monitored) -> None:
    monitored.wait("shifted", reasons.DRIFTED, "True")
    prometheus = monitored.fleet.prometheus
    prometheus.stop()
    try:
        down = monitored.wait("shifted", reasons.DRIFTED, "Unknown")
        assert condition(down, reasons.DRIFTED)["reason"] == reasons.PROMETHEUS_UNAVAILABLE
        for type_ in (reasons.ACCURACY_LOW, reasons.KPI_VIOLATED):
            assert condition(down, type_)["status"] == "Unknown"
        section = down["status"]["monitoring"]
        assert section["state"] == "Unknown"
        assert section["reason"] == reasons.PROMETHEUS_UNAVAILABLE
        assert "Prometheus could not be queried" in section["message"]
        # The last numbers stay, marked by the time they were measured.
        assert section["drift"]["features"] and section["accuracy"] == 0.0
        assert section["checkedAt"] >= section["evaluatedAt"]
        assert reasons.PROMETHEUS_UNAVAILABLE in monitored.events("shifted")
    finally:
        prometheus.start()
    back = monitored.wait("shifted", reasons.DRIFTED, "True")
    section = back["status"]["monitoring"]
    assert section["state"] == "Degraded"
    # The outage's explanation goes with it.
    assert not {"reason", "message", "checkedAt"} & set(section), section
    assert condition(back, reasons.ACCURACY_LOW)["status"] == "True"
