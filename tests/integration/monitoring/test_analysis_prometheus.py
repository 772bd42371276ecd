"""The operator's monitoring analysis against a real Prometheus scraping real model servers:
queries, splitting by namespace/model/track, evaluation, outage and recovery."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from prometheus_client import CollectorRegistry, start_http_server
from vigia_operator.core import reasons
from vigia_operator.decide import monitoring as ev
from vigia_operator.decide.measurements import TickSignals
from vigia_operator.prometheus.client import PrometheusClient
from vigia_operator.prometheus.collect import KPI_BOUNDS, MonitoredModel, PrometheusSignals
from vigia_operator.prometheus.exporter import OperatorMetrics
from vigia_operator.prometheus.queries import queries_for, record_name
from vigia_operator.prometheus.rules import RULES_WINDOW
from vigia_operator.view.monitoring import KPI, MonitoringSpec
from vigia_testbed.net import free_port
from vigia_testbed.prometheus import Target

from vigia.calibration.check import correct, estimated_accuracy
from vigia.sample import NULLABLE_FEATURE, traffic_records, train_sample_model

from .conftest import FEW_ROWS, FLEET_VERSION, ROWS, SHIFTED_FEATURES, STEADY_FEATURES, Fleet

WINDOW = "5m"
DEFECT_RATE = (
    'sum(rate(vigia_predictions_total{namespace="plant", model="shifted", class="defective"}[5m]))'
    ' / sum(rate(vigia_predictions_total{namespace="plant", model="shifted"}[5m]))'
)
DASHBOARD = Path(__file__).resolve().parents[3] / "manifests/grafana/vigia-model-dashboard.json"


def spec(**changes: Any) -> MonitoringSpec:
    base: dict[str, Any] = {"window": WINDOW, "drift_min_samples": 200, "accuracy_min_feedback": 50}
    return MonitoringSpec(**{**base, **changes})


MODELS = [
    MonitoredModel(("plant", "steady"), spec()),
    # 1h: the window of the shipped recording rules, read from the recorded series.
    MonitoredModel(("plant", "shifted"), spec(
        window=RULES_WINDOW,
        kpis=(KPI("defect_rate", DEFECT_RATE, None, 2.0), KPI("broken", "sum(", None, 1.0)),
    )),
    MonitoredModel(("lab", "steady"), spec()),
]


@pytest.fixture(scope="module")
def scraped(fleet: Fleet) -> Fleet:
    """The fleet once Prometheus holds every prediction and feedback label."""
    expected = {("plant", "steady"): ROWS, ("plant", "shifted"): ROWS, ("lab", "steady"): FEW_ROWS}
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        rows = fleet.prometheus.query("sum by (namespace, model) (vigia_predictions_total)")
        seen = {(r["metric"]["namespace"], r["metric"]["model"]): float(r["value"][1])
                for r in rows}
        feedback = fleet.prometheus.query("sum(vigia_feedback_total)")
        # The 1h model reads recorded series: the rules must have run since the last scrape.
        recorded = fleet.prometheus.query(
            f'sum({record_name("feedback", RULES_WINDOW)}{{model="shifted"}})')
        if (seen == expected and feedback and float(feedback[0]["value"][1]) == 2 * ROWS
                and recorded and about(float(recorded[0]["value"][1]), ROWS)):
            return fleet
        time.sleep(1)
    raise AssertionError(f"Prometheus never saw all traffic: {seen}")


def collect(fleet: Fleet, models: Sequence[MonitoredModel] = MODELS,
            **options: Any) -> tuple[TickSignals, PrometheusSignals]:
    provider = PrometheusSignals(PrometheusClient(fleet.prometheus.url, timeout_s=10), **options)
    return provider.collect(models, time.time()), provider


def verdicts(fleet: Fleet, models: Sequence[MonitoredModel] = MODELS,
             **options: Any) -> dict[tuple[str, str], ev.MonitoringVerdict]:
    tick, _ = collect(fleet, models, **options)
    now = time.time()
    return {m.key: ev.assess(m.spec, tick.of(m.key), now=now, unavailable=tick.unavailable)
            for m in models}


def with_kpis(key: tuple[str, str], *kpis: KPI) -> list[MonitoredModel]:
    """MODELS, the one of ``key`` with only ``kpis``, the others with none."""
    return [MonitoredModel(m.key, replace(m.spec, kpis=kpis if m.key == key else ()))
            for m in MODELS]


def about(count: float, expected: int) -> bool:
    """increase() extrapolates to the window's edges: counts are close, not exact."""
    return abs(count - expected) <= max(3, 0.08 * expected)


def number_before(text: str, words: str) -> int:
    found = re.search(rf"(\d+) {words}", text)
    assert found, f"no '<n> {words}' in {text!r}"
    return int(found.group(1))


def status(verdict: ev.MonitoringVerdict, type_: str) -> tuple[str, str, str]:
    found = verdict.condition(type_)
    assert found is not None
    return found.status, found.reason, found.message


def test_stationary_traffic_stays_clean_and_shifted_names_its_features(scraped: Fleet) -> None:
    results = verdicts(scraped)
    steady = results[("plant", "steady")]
    assert status(steady, reasons.DRIFTED)[:2] == ("False", reasons.NO_DRIFT)
    assert steady.section["drift"]["score"] < 0.1
    assert about(steady.section["samples"]["predictions"], ROWS)
    shifted = results[("plant", "shifted")]
    drifted, reason, message = status(shifted, reasons.DRIFTED)
    assert (drifted, reason) == ("True", reasons.FEATURES_DRIFTED)
    named = set(shifted.section["drift"]["features"])
    assert named >= {"ambient_temperature", "line_speed"} and named <= SHIFTED_FEATURES | {
        "flour_supplier"}
    assert not named & STEADY_FEATURES
    assert "ambient_temperature (" in message
    assert about(number_before(message, "predictions"), ROWS)


def test_the_servers_prediction_log_health_reaches_the_verdict(scraped: Fleet) -> None:
    """vigia_prediction_log_up of real servers, scraped by a real Prometheus, queried
    once for every model: their databases are up, so PredictionLogFailing is False."""
    for key, verdict in verdicts(scraped).items():
        state, reason, message = status(verdict, reasons.PREDICTION_LOG_FAILING)
        assert (state, reason) == ("False", reasons.LOG_WRITABLE), key
        assert "rows waiting" in message


def test_feedback_gives_accuracy_and_wrong_labels_give_accuracy_low(scraped: Fleet) -> None:
    results = verdicts(scraped)
    steady, shifted = results[("plant", "steady")], results[("plant", "shifted")]
    assert steady.section["accuracy"] == 1.0 and about(steady.section["feedback"], ROWS)
    assert status(steady, reasons.ACCURACY_LOW)[:2] == ("False", reasons.ACCURACY_OK)
    low, reason, message = status(shifted, reasons.ACCURACY_LOW)
    assert (low, reason) == ("True", reasons.ACCURACY_BELOW_MIN)
    assert "accuracy 0.000 from" in message
    assert about(number_before(message, "feedback labels"), ROWS)


def test_the_accuracy_estimated_without_labels_is_the_bundles_on_the_same_rows(
    scraped: Fleet,
) -> None:
    """Real servers count each prediction's calibrated chance of being right, Prometheus
    divides it by the predictions (inline for 5m, the recorded vigia:estimated_accuracy:1h
    for 1h): the verdict's estimate is what the bundle's calibration map gives offline for
    the same rows, and within 2 points of the accuracy the true labels give."""
    bundle = train_sample_model(rows=2000, seed=1, version=FLEET_VERSION)
    check = bundle.metadata.calibration
    assert check is not None and check.estimable
    results = verdicts(scraped)
    for key, (seed, drift) in {("plant", "steady"): (21, 0.0),
                               ("plant", "shifted"): (22, 1.0)}.items():
        records, labels = traffic_records(ROWS, seed=seed, drift=drift)
        proba = bundle.predict_proba(pd.DataFrame(records).astype({NULLABLE_FEATURE: float}))
        offline = estimated_accuracy(check, proba)
        realized = correct(proba, bundle.metadata.classes, labels).mean()
        section = results[key].section["estimatedAccuracy"]
        assert offline is not None and section["value"] == pytest.approx(offline, abs=0.002), key
        assert abs(section["value"] - realized) < 0.02, key
        assert section["calibrationError"] == round(check.ece, 4)
        state, reason, message = status(results[key], reasons.ESTIMATED_ACCURACY_LOW)
        assert (state, reason) == (
            ("False", reasons.ESTIMATE_OK) if offline >= 0.85 else
            ("True", reasons.ESTIMATE_BELOW_MIN)), key
        assert f"estimated accuracy {section['value']:.3f} without labels" in message


def test_too_little_traffic_is_insufficient_data_in_its_own_namespace(scraped: Fleet) -> None:
    few = verdicts(scraped)[("lab", "steady")]
    state, reason, message = status(few, reasons.DRIFTED)
    assert (state, reason) == ("Unknown", reasons.INSUFFICIENT_DATA)
    # Judged on its one version's own series, which the message names.
    assert "predictions of version " in message
    assert f"over {WINDOW}; drift needs 200" in message
    assert about(number_before(message, "predictions"), FEW_ROWS)
    assert status(few, reasons.ACCURACY_LOW)[:2] == ("Unknown", reasons.INSUFFICIENT_DATA)
    assert few.section["state"] == ev.STATE_INSUFFICIENT


def test_kpis_are_evaluated_and_a_broken_one_is_reported_alone(scraped: Fleet) -> None:
    shifted = verdicts(scraped)[("plant", "shifted")]
    rows = {r["name"]: r for r in shifted.section["kpis"]}
    assert 0 < rows["defect_rate"]["value"] <= 1 and not rows["defect_rate"]["violated"]
    # Refused before it is sent: not PromQL, so it cannot be confined to its namespace.
    assert rows["broken"]["error"].startswith(
        "spec.monitoring.kpis[1].query refused: not valid PromQL")
    assert status(shifted, reasons.KPI_VIOLATED)[:2] == ("Unknown", reasons.KPI_QUERY_FAILED)


def test_a_kpi_reads_only_its_own_namespace(scraped: Fleet) -> None:
    """lab/steady's KPIs: every prediction of every model it can see, and plant's asked for
    by name. Prometheus holds lab's 40 predictions beside plant's 2 x 800."""
    lab = ("lab", "steady")
    models = with_kpis(
        lab,
        KPI("seen", "sum(vigia_predictions_total)", None, None),
        KPI("theirs", 'sum(vigia_predictions_total{namespace="plant"})', None, None),
    )
    results = verdicts(scraped, models)
    rows = {r["name"]: r for r in results[lab].section["kpis"]}
    assert rows["seen"]["value"] == FEW_ROWS
    assert rows["theirs"]["error"].startswith("spec.monitoring.kpis[1].query refused:")
    assert 'namespace="plant"' in rows["theirs"]["error"]
    assert status(results[lab], reasons.KPI_VIOLATED)[:2] == ("Unknown", reasons.KPI_QUERY_FAILED)


def test_a_kpi_that_times_out_fails_only_its_own_kpi_condition(scraped: Fleet) -> None:
    """Prometheus given no time for KPIs (its own timeout, answered 503): lab/steady's KPI
    fails; every other condition, of every model, is what Prometheus's data says."""
    lab = ("lab", "steady")
    models = with_kpis(lab, KPI("predictions", "sum(vigia_predictions_total)", None, None))
    results = verdicts(scraped, models, kpi_bounds=replace(KPI_BOUNDS, timeout_s=1e-9))
    kpi = status(results[lab], reasons.KPI_VIOLATED)
    assert kpi[:2] == ("Unknown", reasons.KPI_QUERY_FAILED), kpi
    # Prometheus says so as "query timed out" (503) or, while still parsing, "context
    # deadline exceeded" (400).
    assert "timed out" in kpi[2] or "deadline exceeded" in kpi[2], kpi
    assert status(results[lab], reasons.DRIFTED)[:2] == ("Unknown", reasons.INSUFFICIENT_DATA)
    shifted, steady = results[("plant", "shifted")], results[("plant", "steady")]
    assert status(shifted, reasons.DRIFTED)[:2] == ("True", reasons.FEATURES_DRIFTED)
    assert status(shifted, reasons.ACCURACY_LOW)[:2] == ("True", reasons.ACCURACY_BELOW_MIN)
    assert status(steady, reasons.DRIFTED)[:2] == ("False", reasons.NO_DRIFT)
    assert status(steady, reasons.KPI_VIOLATED)[:2] == ("False", reasons.NO_KPIS)


def test_a_kpi_of_many_series_fails_alone_and_others_are_judged(scraped: Fleet) -> None:
    """plant/steady's KPI forgets to aggregate (one series per class and version):
    Prometheus is asked for at most two, and the KPI is refused as not one number."""
    steady, shifted = ("plant", "steady"), ("plant", "shifted")
    models = [
        MonitoredModel(m.key, replace(m.spec, kpis={
            steady: (KPI("raw", "vigia_predictions_total", None, None),),
            shifted: (KPI("defect_rate", DEFECT_RATE, None, 2.0),),
        }.get(m.key, ())))
        for m in MODELS
    ]
    results = verdicts(scraped, models)
    raw = status(results[steady], reasons.KPI_VIOLATED)
    assert raw[:2] == ("Unknown", reasons.KPI_QUERY_FAILED)
    assert "more than 1 series" in raw[2], raw
    assert status(results[steady], reasons.DRIFTED)[:2] == ("False", reasons.NO_DRIFT)
    assert status(results[shifted], reasons.KPI_VIOLATED)[:2] == ("False", reasons.KPIS_MET)


def test_one_query_per_signal_whatever_the_number_of_models(scraped: Fleet) -> None:
    tick, provider = collect(scraped)
    sent = [k for m in MODELS for k in m.spec.kpis if k.name != "broken"]  # refused, unsent
    assert tick.queries == len(queries_for({WINDOW, RULES_WINDOW})) + len(sent)
    assert provider.last_stats.errors == {}


def test_prometheus_down_is_unknown_then_recovers(scraped: Fleet) -> None:
    before = verdicts(scraped)
    scraped.prometheus.stop()
    try:
        during = verdicts(scraped)
        for key, verdict in during.items():
            assert {c.reason for c in verdict.conditions} == {reasons.PROMETHEUS_UNAVAILABLE}, key
            assert {c.status for c in verdict.conditions} == {"Unknown"}
    finally:
        scraped.prometheus.start()
    deadline = time.monotonic() + 60
    while True:
        after = verdicts(scraped)
        shifted = after[("plant", "shifted")]
        if shifted.condition(reasons.DRIFTED) and status(shifted, reasons.DRIFTED)[0] == "True":
            break
        assert time.monotonic() < deadline, status(shifted, reasons.DRIFTED)
        time.sleep(1)
    assert after[("plant", "shifted")].section["drift"]["features"] == \
        before[("plant", "shifted")].section["drift"]["features"]


@pytest.fixture
def operator_metrics(scraped: Fleet) -> Iterator[None]:
    """The operator's gauges, as published from a real tick, scraped by the same Prometheus."""
    registry = CollectorRegistry()
    exported = OperatorMetrics(registry)
    for key, verdict in verdicts(scraped).items():
        exported.publish(key, verdict)
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    targets = [Target(f"127.0.0.1:{m.server.port}") for m in scraped.models.values()]
    scraped.prometheus.set_targets([*targets, Target(f"127.0.0.1:{port}")])
    try:
        yield
    finally:
        scraped.prometheus.set_targets(targets)
        server.shutdown()
        thread.join(timeout=5)


def dashboard_queries() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [t["expr"] for p in dashboard["panels"] for t in p["targets"]]


def test_every_dashboard_query_returns_data(scraped: Fleet, operator_metrics: None) -> None:
    variables = {"$namespace": "plant", "$model": "shifted", "$__rate_interval": "1m"}
    pending = {}
    for expr in dashboard_queries():
        concrete = re.sub(r"\$[_a-z]+", lambda m: variables[m.group(0)], expr)
        pending[expr] = concrete
    deadline = time.monotonic() + 60
    while pending and time.monotonic() < deadline:
        for expr, concrete in list(pending.items()):
            if scraped.prometheus.query(concrete):
                del pending[expr]
        time.sleep(1)
    assert not pending, f"dashboard queries without data: {list(pending)}"

