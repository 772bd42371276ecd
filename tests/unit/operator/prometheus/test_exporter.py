"""The operator's monitoring gauges follow the verdicts and drop deleted models."""

from __future__ import annotations

from prometheus_client import CollectorRegistry
from vigia_operator.core import reasons
from vigia_operator.core.reasons import ConditionStatus
from vigia_operator.core.types import Condition
from vigia_operator.decide import monitoring as ev
from vigia_operator.prometheus.collect import QueryStats
from vigia_operator.prometheus.exporter import OperatorMetrics

from vigia import metrics

KEY = ("bakery", "sobaos")
LABELS = {"namespace": "bakery", "model": "sobaos"}


def verdict(drifted: ConditionStatus, psi: float) -> ev.MonitoringVerdict:
    return ev.MonitoringVerdict(
        ev.MonitoringStatus(
            state=ev.STATE_HEALTHY, drift=ev.DriftStatus("PSI", 0.2, scores={"oven": psi}),
            accuracy=0.9, confidence=ev.ConfidenceStatus(min=0.6, mean=0.8),
            kpis=(ev.KPIStatus("scrap", value=0.01),),
            cost=ev.CostStatus("EUR per 1,000 cakes", value=412.0)),
        (Condition(reasons.DRIFTED, drifted, "r", "m"),),
    )


def test_gauges_transitions_and_forgetting() -> None:
    registry = CollectorRegistry()
    exported = OperatorMetrics(registry)

    def value(name: str, **extra: str) -> float | None:
        return registry.get_sample_value(name, {**LABELS, **extra})

    exported.publish(KEY, verdict("False", 0.05))
    exported.publish(KEY, verdict("True", 0.4))
    assert value(metrics.OPERATOR_DRIFT, feature="oven", statistic="PSI") == 0.4
    assert value(metrics.OPERATOR_ACCURACY) == 0.9
    assert value(metrics.OPERATOR_KPI, kpi="scrap") == 0.01
    assert value(metrics.OPERATOR_COST, unit="EUR per 1,000 cakes") == 412.0
    assert value(metrics.OPERATOR_STATE, condition=reasons.DRIFTED) == 1.0
    transitions = registry.get_sample_value(
        f"{metrics.OPERATOR_DECISIONS}_total", {"condition": reasons.DRIFTED, "decision": "True"}
    )
    assert transitions == 1.0
    exported.retain([])
    assert value(metrics.OPERATOR_ACCURACY) is None
    assert value(metrics.OPERATOR_COST, unit="EUR per 1,000 cakes") is None
    assert value(metrics.OPERATOR_DRIFT, feature="oven", statistic="PSI") is None


def test_tick_figures() -> None:
    registry = CollectorRegistry()
    exported = OperatorMetrics(registry)
    stats = QueryStats()
    stats.record("accuracy", 0.1, failed=False)
    stats.record("accuracy", 0.1, failed=True)
    exported.observe_tick(0.5, stats)
    assert registry.get_sample_value(
        f"{metrics.OPERATOR_QUERIES}_total", {"signal": "accuracy"}) == 2
    assert registry.get_sample_value(
        f"{metrics.OPERATOR_QUERY_ERRORS}_total", {"signal": "accuracy"}) == 1
    assert registry.get_sample_value(f"{metrics.OPERATOR_TICK_SECONDS}_count") == 1
