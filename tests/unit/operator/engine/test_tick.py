"""The tick: one batched collection for every model, then the one reconcile path."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from vigia_operator.core.types import MONITORING_AT, ModelRef, Signals
from vigia_operator.engine.reconcile import Engine, ReconcileReport
from vigia_operator.engine.tick import Tick
from vigia_operator.view import ModelDeploymentView

from tests.unit.operator.engine.test_reconcile import REF, _engine
from tests.unit.operator.schema import defaulted_sample


class Recording:
    def __init__(self, fail: bool = False) -> None:
        self.batches: list[list[ModelRef]] = []
        self.monitored: list[list[ModelRef]] = []
        self.fail = fail

    async def collect(self, models: Sequence[ModelDeploymentView],
                      monitored: Sequence[ModelDeploymentView],
                      at: float) -> Mapping[ModelRef, Signals]:
        self.batches.append([ModelRef.of(m) for m in models])
        self.monitored.append([ModelRef.of(m) for m in monitored])
        if self.fail:
            raise ConnectionError("prometheus down")
        return {ModelRef.of(m): Signals("t", {"drift": 0.1}) for m in models}


def _spy_on_signals(engine: Engine) -> list[Signals | None]:
    """The signals each reconcile of the engine is handed, in order."""
    seen: list[Signals | None] = []
    original = engine.reconcile

    async def spy(ref: ModelRef, *, trigger: str,
                  signals: Signals | None = None) -> ReconcileReport:
        seen.append(signals)
        return await original(ref, trigger=trigger, signals=signals)

    engine.reconcile = spy  # type: ignore[method-assign]
    return seen


async def test_one_collection_for_all_models_then_a_reconcile_each() -> None:
    engine, _kube, store = _engine(defaulted_sample())
    other = defaulted_sample()
    other["metadata"].update(name="iris", uid="u-2")
    store.bodies[ModelRef("ml", "iris")] = other
    provider = Recording()
    report = await Tick(engine, provider, interval=60).once()
    assert provider.batches == [[REF, ModelRef("ml", "iris")]]
    assert (report.models, report.with_signals, report.written) == (2, 2, 2)
    assert report.applied == 8  # four children each, first time


async def test_a_failed_collection_reaches_every_model_as_an_error() -> None:
    engine, _kube, _store = _engine(defaulted_sample())
    seen = _spy_on_signals(engine)
    await Tick(engine, Recording(fail=True), interval=60).once()
    (signals,) = seen
    assert signals is not None and signals.error is not None
    assert "prometheus down" in signals.error


async def test_each_model_is_monitored_at_its_own_interval() -> None:
    engine, _kube, store = _engine(defaulted_sample())  # spec.monitoring.interval 1m
    daily = defaulted_sample()
    daily["metadata"].update(name="iris", uid="u-2")
    daily["spec"]["monitoring"]["interval"] = "24h"
    store.bodies[ModelRef("ml", "iris")] = daily
    now = [1_000_000.0]
    provider = Recording()
    tick = Tick(engine, provider, interval=60, clock=lambda: now[0])
    for elapsed in (0, 30, 60, 24 * 3600):
        now[0] = 1_000_000.0 + elapsed
        await tick.once()
    iris = ModelRef("ml", "iris")
    assert provider.monitored == [[REF, iris], [], [REF], [REF, iris]]
    assert all(batch == [REF, iris] for batch in provider.batches)  # canaries every tick


async def test_a_failed_collection_says_which_models_were_due() -> None:
    engine, _kube, _store = _engine(defaulted_sample())
    seen = _spy_on_signals(engine)
    now = [1_000_000.0]
    tick = Tick(engine, Recording(fail=True), interval=60, clock=lambda: now[0])
    await tick.once()
    now[0] += 10
    await tick.once()
    due, not_due = seen
    assert due is not None and MONITORING_AT in due.values
    assert not_due is not None and not_due.error and MONITORING_AT not in not_due.values
