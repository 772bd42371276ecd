"""The tick: one batched collection for every model, then the one reconcile path."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from vigia_operator.core.types import ModelRef, Signals
from vigia_operator.engine.reconcile import Outcome
from vigia_operator.engine.tick import Tick
from vigia_operator.view import ModelDeploymentView

from tests.unit.operator.engine.test_reconcile import REF, _engine
from tests.unit.operator.schema import defaulted_sample


class Recording:
    def __init__(self, fail: bool = False) -> None:
        self.batches: list[list[ModelRef]] = []
        self.fail = fail

    async def collect(self, models: Sequence[ModelDeploymentView]) -> Mapping[ModelRef, Signals]:
        self.batches.append([ModelRef.of(m) for m in models])
        if self.fail:
            raise ConnectionError("prometheus down")
        return {ModelRef.of(m): Signals("t", {"drift": 0.1}) for m in models}


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
    seen: list[Signals | None] = []
    original = engine.reconcile

    async def spy(ref: ModelRef, *, trigger: str, signals: Signals | None = None) -> Outcome:
        seen.append(signals)
        return await original(ref, trigger=trigger, signals=signals)

    engine.reconcile = spy
    await Tick(engine, Recording(fail=True), interval=60).once()
    (signals,) = seen
    assert signals is not None and signals.error is not None
    assert "prometheus down" in signals.error
