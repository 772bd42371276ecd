"""The KPIs of one tick: confined, bounded, and failing alone (the HTTP side is tested
against a real Prometheus in tests/integration/monitoring)."""

from __future__ import annotations

from vigia_operator.core import config
from vigia_operator.prometheus.client import (
    PrometheusUnavailable,
    QueryBounds,
    QueryRejected,
    Sample,
)
from vigia_operator.prometheus.collect import MonitoredModel, PrometheusSignals
from vigia_operator.view.monitoring import KPI, MonitoringSpec

SLOW = "slow_metric"
WIDE = "wide_metric"


class FakeClient:
    """Answers every signal query with nothing; a KPI per its metric."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, QueryBounds | None]] = []

    def query(self, promql: str, at: float, bounds: QueryBounds | None = None) -> list[Sample]:
        self.asked.append((promql, bounds))
        if SLOW in promql:
            raise PrometheusUnavailable("HTTP 503: query timed out in expression evaluation")
        if WIDE in promql:
            raise QueryRejected("the query returned more than 1 series")
        if bounds is not None:
            return [Sample({}, 0.5, at)]
        return []


def model(namespace: str, *kpis: KPI) -> MonitoredModel:
    return MonitoredModel((namespace, "m"), MonitoringSpec(kpis=kpis))


def test_a_kpi_is_sent_confined_and_bounded_and_signal_queries_are_not() -> None:
    client = FakeClient()
    PrometheusSignals(client).collect([model("a", KPI("k", "sum(x)", None, 1.0))], 0.0)
    kpis = [(q, b) for q, b in client.asked if b is not None]
    assert kpis == [('sum(x{namespace="a"})', QueryBounds(
        config.KPI_TIMEOUT_S, config.KPI_MAX_SERIES, config.KPI_MAX_RESPONSE_BYTES,
        config.KPI_TIMEOUT_GRACE_S))]
    assert all('namespace="a"' not in q for q, b in client.asked if b is None)


def test_a_kpi_reading_another_namespace_is_refused_and_never_sent() -> None:
    client = FakeClient()
    theirs = KPI("theirs", 'sum(x{namespace="b"})', None, 1.0)
    tick = PrometheusSignals(client).collect(
        [model("a", KPI("ok", "sum(x)", None, 1.0), theirs)], 0.0)
    errors = tick.models[("a", "m")].kpi_errors
    assert errors["theirs"].startswith("spec.monitoring.kpis[1].query refused:")
    assert 'namespace="b"' in errors["theirs"]
    assert tick.models[("a", "m")].kpis == {"ok": 0.5}
    assert not any('namespace="b"' in q for q, _ in client.asked)


def test_a_slow_or_wide_kpi_fails_only_itself_not_the_tick() -> None:
    client = FakeClient()
    tick = PrometheusSignals(client).collect([
        model("a", KPI("slow", f"sum({SLOW})", None, 1.0), KPI("fine", "sum(x)", None, 1.0)),
        model("b", KPI("wide", WIDE, None, 1.0)),
        model("c", KPI("fine", "sum(x)", None, 1.0)),
    ], 0.0)
    assert tick.unavailable is None
    assert "timed out" in tick.models[("a", "m")].kpi_errors["slow"]
    assert tick.models[("a", "m")].kpis == {"fine": 0.5}
    assert "more than 1 series" in tick.models[("b", "m")].kpi_errors["wide"]
    assert tick.models[("c", "m")].kpis == {"fine": 0.5}
    assert not tick.models[("c", "m")].kpi_errors


def test_prometheus_failing_a_signal_query_still_makes_the_tick_unavailable() -> None:
    class Down(FakeClient):
        def query(self, promql: str, at: float,
                  bounds: QueryBounds | None = None) -> list[Sample]:
            raise PrometheusUnavailable("connection refused")

    tick = PrometheusSignals(Down()).collect([model("a", KPI("k", "sum(x)", None, 1.0))], 0.0)
    assert tick.unavailable == "connection refused"
