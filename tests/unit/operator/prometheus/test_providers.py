"""The canary provider: one query per signal and window for all models, filed per model."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from vigia_operator.core.types import CANARY, CANARY_ERROR, MONITORING_AT, ModelRef, Signals
from vigia_operator.prometheus.canary_queries import CanarySignal, render
from vigia_operator.prometheus.client import QueryBounds, Sample
from vigia_operator.prometheus.providers import (
    CanaryProvider,
    CombinedProvider,
    MonitoringProvider,
)
from vigia_operator.view import parse

from tests.unit.operator.schema import defaulted_sample

AT = 1_800_000_000.0


def _md(namespace: str, name: str, interval: str = "1m"):
    body = defaulted_sample()
    body["metadata"].update(namespace=namespace, name=name)
    body["spec"]["rollout"]["analysis"]["interval"] = interval
    return parse(body)


class FakeClient:
    def __init__(self, fail: bool = False) -> None:
        self.asked: list[str] = []
        self.fail = fail

    def query(self, promql: str, at: float, bounds: QueryBounds | None = None) -> list[Sample]:
        self.asked.append(promql)
        if self.fail:
            raise ConnectionRefusedError("connection refused")
        if promql == render(CanarySignal.REQUESTS, "60s"):
            return [Sample({"namespace": "a", "model": "iris", "track": "canary",
                            "version": "v2"}, 120.0, at)]
        return []


def test_one_query_per_signal_and_window_for_every_model() -> None:
    client = FakeClient()
    models = [_md("a", "iris"), _md("b", "iris"), _md("c", "wine", "30s")]
    got = asyncio.run(CanaryProvider(client).collect(models, [], AT))
    assert len(client.asked) == 2 * len(CanarySignal)
    assert got[ModelRef("a", "iris")].values[CANARY][("canary", "v2")].requests == 120
    assert got[ModelRef("b", "iris")].values[CANARY] == {}


def test_prometheus_down_is_a_canary_error_not_a_global_one() -> None:
    got = asyncio.run(CanaryProvider(FakeClient(fail=True)).collect([_md("a", "iris")], [], AT))
    signals = got[ModelRef("a", "iris")]
    assert signals.error is None and "connection refused" in signals.values[CANARY_ERROR]


def test_combined_provider_merges_values_per_model() -> None:
    ref = ModelRef("a", "iris")

    class One:
        def __init__(self, signals: Signals) -> None:
            self.signals = signals

        async def collect(self, models, monitored, at):
            return {ref: self.signals}

    first = Signals("t", values={"drift": 0.1})
    second = replace(first, values={CANARY: {}}, error="down")
    got = asyncio.run(CombinedProvider(One(first), One(second)).collect([], [], AT))
    assert got[ref].values == {"drift": 0.1, CANARY: {}} and got[ref].error == "down"


def test_monitoring_collects_only_the_models_whose_interval_is_due() -> None:
    client = FakeClient()
    due, waiting = _md("a", "iris"), _md("b", "wine")
    got = asyncio.run(MonitoringProvider(client).collect([due, waiting], [due], AT))
    assert set(got) == {ModelRef("a", "iris")}
    assert MONITORING_AT in got[ModelRef("a", "iris")].values
    asked = len(client.asked)
    assert asyncio.run(MonitoringProvider(client).collect([due, waiting], [], AT)) == {}
    assert len(client.asked) == asked  # nothing due: no query at all
