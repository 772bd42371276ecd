"""One object must never stop the others (issue 21): whatever one ModelDeployment's spec
does, the tick and the other objects' reconciles go on, and the failing object gets a
condition and an Event naming the field and the reason."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any, cast

import kopf
import pytest
from vigia_operator.core import reasons
from vigia_operator.core.config import TICK_LIVENESS_INTERVALS
from vigia_operator.core.types import ModelRef, Signals
from vigia_operator.engine.tick import Tick, supervise
from vigia_operator.handlers import TickStalled, tick_alive
from vigia_operator.view import ModelDeploymentView

from tests.unit.operator.engine.fakes import FakeKube
from tests.unit.operator.engine.test_reconcile import _engine
from tests.unit.operator.schema import defaulted_sample

OTHER = ModelRef("ml", "iris")
NEVER_FIRES = "0 0 31 2 *"  # accepted by the CRD's pattern and by croniter.is_valid


class NoSignals:
    async def collect(self, models: Sequence[ModelDeploymentView],
                      monitored: Sequence[ModelDeploymentView],
                      at: float) -> Mapping[ModelRef, Signals]:
        return {}


def _two(poison: dict[str, Any]) -> tuple[Any, FakeKube, Any]:
    """The sample (poisoned by ``poison`` applied to its spec.retraining) and a healthy
    second ModelDeployment, in one engine."""
    body = defaulted_sample()
    body["metadata"]["creationTimestamp"] = "2020-01-01T00:00:00Z"
    body["spec"]["retraining"].update(poison)
    engine, kube, store = _engine(body)
    other = defaulted_sample()
    other["metadata"].update(name="iris", uid="u-2")
    store.bodies[OTHER] = other
    return engine, kube, store


def _conditions_of(kube: FakeKube, name: str) -> list[dict[str, Any]]:
    """The conditions of the last status written for ``name``."""
    written = [s for (verb, who), s in zip(
        [c for c in kube.calls if c[0] == "status"], kube.statuses, strict=True)
        if who == name]
    return list(written[-1]["conditions"]) if written else []


def _refusal(kube: FakeKube, name: str) -> dict[str, Any]:
    (degraded,) = [c for c in _conditions_of(kube, name) if c["type"] == reasons.DEGRADED]
    assert degraded["status"] == "True"
    return degraded


async def test_a_schedule_that_never_fires_is_refused_and_the_tick_goes_on() -> None:
    engine, kube, _store = _two({"triggers": {"drift": True, "accuracy": True,
                                              "schedule": NEVER_FIRES}})
    tick = Tick(engine, NoSignals(), interval=60)
    report = await tick.once()  # before: CroniterBadDateError escaped and killed the tick
    assert report.models == 2
    await tick.once()
    assert _conditions_of(kube, "iris"), "the healthy model is reconciled"
    refused = _refusal(kube, "sobaos")
    assert refused["reason"] == reasons.INVALID_SPEC
    assert refused["message"].startswith("spec.retraining.triggers.schedule:")
    assert "never fires" in refused["message"]
    events = [e for e in kube.events if e["reason"] == reasons.INVALID_SPEC]
    assert len(events) == 1, "one Event, not one per tick"
    assert "spec.retraining.triggers.schedule" in events[0]["message"]
    assert events[0]["involvedObject"]["name"] == "sobaos"
    assert events[0]["type"] == reasons.WARNING


async def test_a_dataset_path_out_of_its_claim_is_refused_when_retraining_starts() -> None:
    # "* * * * *" is due at once: before, the retraining Job was built for this dataset.
    engine, kube, _store = _two({"triggers": {"drift": False, "accuracy": False,
                                              "schedule": "* * * * *"},
                                 "dataset": {"uri": "pvc://data/../x.csv",
                                             "target": "quality"}})
    await Tick(engine, NoSignals(), interval=60).once()  # before: ValueError escaped
    assert _conditions_of(kube, "iris")
    assert "spec.retraining.dataset.uri" in _refusal(kube, "sobaos")["message"]
    assert not [c for c in kube.calls if c == ("create", "Job")]


async def test_an_unexpected_failure_is_the_objects_condition_not_the_ticks() -> None:
    # A value the CRD's schema would refuse (an object stored before it): no part of the
    # operator expects it, and today its ValueError escapes the tick.
    engine, kube, _store = _two({"gate": {"minImprovement": "lots"}})
    await Tick(engine, NoSignals(), interval=60).once()
    assert _conditions_of(kube, "iris")
    degraded = [c for c in _conditions_of(kube, "sobaos") if c["type"] == reasons.DEGRADED]
    assert degraded and degraded[0]["status"] == "True"
    assert degraded[0]["reason"] == reasons.RECONCILE_FAILED
    assert "lots" in degraded[0]["message"]
    assert reasons.RECONCILE_FAILED in [e["reason"] for e in kube.events]


async def test_an_object_over_its_time_budget_does_not_hold_the_others() -> None:
    engine, kube, _store = _two({})
    engine.settings = engine.settings.model_copy(update={"reconcile_budget_seconds": 0.2})
    release = asyncio.Event()
    original = kube.apply

    async def slow_apply(obj: Mapping[str, Any]) -> Any:
        if obj["metadata"]["name"].startswith("sobaos"):
            await release.wait()  # a slow API call for this object only
        return await original(obj)

    kube.apply = slow_apply  # type: ignore[method-assign]
    # A guard, not a timing: today the tick waits for the slow call for ever.
    report = await asyncio.wait_for(Tick(engine, NoSignals(), interval=60).once(), 30)
    release.set()
    assert report.models == 2
    assert _conditions_of(kube, "iris")
    degraded = [c for c in _conditions_of(kube, "sobaos") if c["type"] == reasons.DEGRADED]
    assert degraded and degraded[0]["reason"] == reasons.OVER_BUDGET
    assert "0.2" in degraded[0]["message"]
    assert reasons.OVER_BUDGET in [e["reason"] for e in kube.events]


async def test_a_crashed_tick_loop_is_restarted() -> None:
    turns: list[int] = []
    done = asyncio.Event()

    async def run() -> None:
        turns.append(len(turns))
        if len(turns) < 3:
            raise RuntimeError("the tick crashed")
        done.set()
        await asyncio.Event().wait()  # runs on

    supervisor = asyncio.create_task(supervise("test tick", run, max_delay=0.01))
    await asyncio.wait_for(done.wait(), 10)
    supervisor.cancel()
    assert turns == [0, 1, 2]


async def test_liveness_fails_when_no_tick_completes() -> None:
    engine, _kube, store = _two({})
    tick = Tick(engine, NoSignals(), interval=1)
    started = tick.completed_at
    settings = engine.settings
    allowed = (TICK_LIVENESS_INTERVALS * 1 + settings.collect_budget_seconds
               + settings.reconcile_budget_seconds)
    assert tick.alive(now=started + allowed)
    assert not tick.alive(now=started + allowed + 1)

    def broken() -> Any:
        raise RuntimeError("the store is broken")

    store.models = broken  # a tick that cannot complete keeps liveness falling
    with pytest.raises(RuntimeError):
        await tick.once()
    assert tick.completed_at == started
    memo = kopf.Memo(tick=tick)
    probe = cast(Any, tick_alive)  # kopf's decorator types it as its own callback
    tick.completed_at = started - allowed - 1
    with pytest.raises(TickStalled):
        probe(memo=memo)
    store.models = lambda: iter(())
    await tick.once()
    assert tick.alive() and probe(memo=memo) is not None


class Hanging:
    """A collection that never answers (a KPI query Prometheus never finishes)."""

    async def collect(self, models: Sequence[ModelDeploymentView],
                      monitored: Sequence[ModelDeploymentView],
                      at: float) -> Mapping[ModelRef, Signals]:
        await asyncio.Event().wait()
        return {}


async def test_a_collection_over_its_budget_does_not_hold_the_decisions() -> None:
    engine, kube, _store = _two({})
    engine.settings = engine.settings.model_copy(update={"collect_budget_seconds": 0.2})
    seen: list[Signals | None] = []
    original = engine.reconcile

    async def spy(ref: ModelRef, *, trigger: str, signals: Signals | None = None) -> Any:
        seen.append(signals)
        return await original(ref, trigger=trigger, signals=signals)

    engine.reconcile = spy
    # A guard, not a timing: today the tick waits for the collection for ever.
    report = await asyncio.wait_for(Tick(engine, Hanging(), interval=60).once(), 30)
    assert report.models == 2 and len(seen) == 2
    for signals in seen:
        assert signals is not None and signals.error is not None
        assert "budget of 0.2s" in signals.error
    assert _conditions_of(kube, "iris") and _conditions_of(kube, "sobaos")
