"""An object that did not change is not decided again; every kind of change is."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

import pytest
from vigia_operator.core import reasons
from vigia_operator.core.clock import iso, parse_time, utcnow
from vigia_operator.core.types import MONITORING, MONITORING_AT, Signals
from vigia_operator.decide.measurements import ModelSignals, TrackSignals
from vigia_operator.engine import reconcile, specs
from vigia_operator.engine.decide import Observation
from vigia_operator.engine.observed import seen
from vigia_operator.engine.reconcile import Engine, ReconcileReport
from vigia_operator.engine.tick import Tick
from vigia_operator.engine.unchanged import QUIET_SECONDS, quiet_until
from vigia_operator.prometheus.providers import NoSignals
from vigia_operator.view import parse
from vigia_operator.view.retraining import parse_retraining
from vigia_operator.view.rollout import COMMAND_ANNOTATION

from tests.unit.operator.engine.fakes import DictStore, FakeKube
from tests.unit.operator.engine.test_reconcile import REF, _engine
from tests.unit.operator.schema import defaulted_sample

STABLE = ("Deployment", "sobaos-stable")


class Clock:
    """The engine's clock (``reconcile.utcnow``), moved by the test."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = utcnow()
        monkeypatch.setattr(reconcile, "utcnow", lambda: self.now)


async def _settled(body: dict[str, Any] | None = None) -> tuple[Engine, FakeKube, DictStore]:
    """A ModelDeployment whose children are applied and whose status is written and seen,
    then one tick that did nothing (the one the next identical tick can stand for)."""
    engine, kube, store = _engine(body or defaulted_sample())
    await engine.reconcile(REF, trigger="event")
    store.catch_up(kube, REF)
    await engine.reconcile(REF, trigger="tick")  # writes the schedule's next run
    store.catch_up(kube, REF)
    quiet = await engine.reconcile(REF, trigger="tick")
    assert (quiet.applied, quiet.status_written, quiet.unchanged) == ([], False, False)
    kube.calls.clear()
    kube.events.clear()
    return engine, kube, store


async def _tick(engine: Engine, signals: Signals | None = None) -> ReconcileReport:
    return await engine.reconcile(REF, trigger="tick", signals=signals)


def _drifting() -> Signals:
    at = time.time()
    track = TrackSignals(feature_psi={"oven_temperature": 0.7}, predictions=5000.0,
                         feedback=10.0, last_scrape=at - 5)
    return Signals("t", values={MONITORING: ModelSignals(tracks={("stable", "1"): track}),
                                MONITORING_AT: at})


def _touch(obj: dict[str, Any]) -> None:
    meta = obj["metadata"]
    meta["resourceVersion"] = str(int(meta.get("resourceVersion") or "1") + 1000)


async def test_an_unchanged_object_is_not_decided_again_and_makes_no_api_call(
        monkeypatch: pytest.MonkeyPatch) -> None:
    engine, kube, _store = await _settled()

    def decided(*_: Any) -> None:
        raise AssertionError("decided again")

    monkeypatch.setattr(reconcile, "decide_children", decided)
    for _ in range(3):
        report = await _tick(engine)
        assert report.unchanged and not report.applied and not report.status_written
    assert (kube.calls, kube.events) == ([], [])


async def test_the_tick_counts_the_unchanged() -> None:
    engine, kube, _store = await _settled()
    report = await Tick(engine, NoSignals(), interval=60).once()
    assert (report.models, report.unchanged, report.applied, report.written) == (1, 1, 0, 0)
    assert kube.calls == []


async def test_a_new_generation_of_the_spec_is_decided() -> None:
    engine, kube, store = await _settled()
    body = store.bodies[REF]
    body["spec"]["serving"]["replicas"] = 3
    body["metadata"]["generation"] = 2
    _touch(body)
    report = await _tick(engine)
    assert not report.unchanged and report.applied == [STABLE]
    assert kube.objects[("ml", *STABLE)]["spec"]["replicas"] == 3
    assert kube.statuses[-1]["observedGeneration"] == 2


async def test_a_hand_edit_of_a_child_is_restored() -> None:
    engine, kube, store = await _settled()
    deployment = store.child_entries[REF][STABLE].body
    deployment["spec"]["paused"] = True
    _touch(deployment)
    store.child_entries[REF][STABLE] = seen(deployment)
    report = await _tick(engine)
    assert not report.unchanged and report.applied == [STABLE]
    assert [e["reason"] for e in kube.events] == [reasons.RESTORED]


async def test_a_child_at_a_new_resource_version_is_decided() -> None:
    engine, kube, store = await _settled()
    deployment = store.child_entries[REF][STABLE].body
    deployment["status"] = {"replicas": 1, "readyReplicas": 1, "availableReplicas": 1,
                            "updatedReplicas": 1, "observedGeneration": 1}
    _touch(deployment)
    store.child_entries[REF][STABLE] = seen(deployment)
    report = await _tick(engine)
    assert not report.unchanged
    assert kube.statuses and kube.statuses[-1]["phase"] != reasons.PHASE_PROGRESSING


async def test_a_command_on_the_object_is_decided() -> None:
    engine, _kube, store = await _settled()
    body = store.bodies[REF]
    body["metadata"].setdefault("annotations", {})[COMMAND_ANNOTATION] = "abort"
    _touch(body)
    assert not (await _tick(engine)).unchanged


async def test_a_hand_edit_of_the_status_is_decided() -> None:
    engine, kube, store = await _settled()
    body = store.bodies[REF]
    body["status"]["phase"] = "Ready"  # kubectl edit --subresource=status
    _touch(body)
    report = await _tick(engine)
    assert not report.unchanged and report.status_written
    assert kube.statuses[-1]["phase"] == reasons.PHASE_PROGRESSING


async def test_new_signal_values_are_decided_the_same_values_are_not() -> None:
    engine, kube, _store = await _settled()
    report = await _tick(engine, _drifting())
    assert not report.unchanged and report.status_written
    drifted = [c for c in kube.statuses[-1]["conditions"] if c["type"] == reasons.DRIFTED]
    assert drifted[0]["status"] == "True"
    # The signals' stamp is not a value: a canary provider's nothing-measured is the same.
    empty = Signals("2026-12-07T10:00:00Z", values={})
    await _tick(engine, empty)
    assert (await _tick(engine, Signals("2026-12-07T10:01:00Z", values={}))).unchanged
    assert not (await _tick(engine, Signals("t", values={}, error="prometheus down"))).unchanged


async def test_new_signals_alone_decide_the_status_not_the_children(
        monkeypatch: pytest.MonkeyPatch) -> None:
    engine, kube, _store = await _settled()

    def decided(*_: Any) -> None:
        raise AssertionError("children decided again")

    monkeypatch.setattr(reconcile, "decide_children", decided)
    report = await _tick(engine, _drifting())
    assert not report.unchanged and report.status_written and not report.applied
    drifted = [c for c in kube.statuses[-1]["conditions"] if c["type"] == reasons.DRIFTED]
    assert drifted[0]["status"] == "True"


async def test_an_event_after_a_quiet_tick_is_decided_once() -> None:
    engine, _kube, _store = await _settled()
    assert not (await engine.reconcile(REF, trigger="child")).unchanged
    assert (await engine.reconcile(REF, trigger="child")).unchanged
    assert (await _tick(engine)).unchanged  # the tick's inputs are remembered apart


async def test_the_schedule_coming_due_is_decided(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock(monkeypatch)
    body = defaulted_sample()
    body["spec"]["retraining"]["includeFeedback"] = False  # the Job needs no durable store
    engine, kube, store = await _settled(body)
    await _tick(engine)  # quiet under the test's clock
    assert (await _tick(engine)).unchanged
    due = parse_time(store.bodies[REF]["status"]["retraining"]["nextScheduled"])
    assert due is not None
    clock.now = due - timedelta(seconds=1)
    await _tick(engine)  # past the quiet period: decided again, quiet
    assert (await _tick(engine)).unchanged
    clock.now = due
    report = await _tick(engine)
    assert not report.unchanged and report.status_written
    assert ("create", "Job") in kube.calls
    written = kube.statuses[-1]["retraining"]
    assert written["lastTrigger"]["reason"] == reasons.TRIGGER_SCHEDULE
    assert parse_time(written["nextScheduled"]) > due  # type: ignore[operator]


async def test_a_full_reconcile_runs_at_least_every_quiet_period(
        monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock(monkeypatch)
    engine, _kube, _store = await _settled()
    await _tick(engine)
    clock.now += timedelta(seconds=QUIET_SECONDS - 1)
    assert (await _tick(engine)).unchanged
    clock.now += timedelta(seconds=1)
    assert not (await _tick(engine)).unchanged


def _observation(status: dict[str, Any], now: datetime,
                 annotations: dict[str, str] | None = None) -> Observation:
    body = defaulted_sample()
    body["metadata"]["annotations"] = annotations or {}
    return Observation(body=body, md=parse(body), retraining=parse_retraining(body),
                       status=status, children={}, signals=None, now=now, tick=True)


def test_quiet_until_the_next_moment_the_clock_decides() -> None:
    now = utcnow()
    later = {"retraining": {"nextScheduled": iso(now + timedelta(minutes=3)),
                            "cooldownUntil": iso(now + timedelta(minutes=2))}}
    assert quiet_until(_observation(later, now)) == now + timedelta(minutes=2)
    past = {"retraining": {"cooldownUntil": iso(now - timedelta(hours=1))}}
    assert quiet_until(_observation(past, now)) == now + timedelta(seconds=QUIET_SECONDS)
    # A rollout in flight (pauses, analyses) and a command to consume are never skipped.
    assert quiet_until(_observation({"canary": {"version": "2"}}, now)) is None
    assert quiet_until(_observation({}, now, {COMMAND_ANNOTATION: "promote"})) is None


async def test_the_spec_is_parsed_once_per_generation(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: list[int] = []
    original = specs.parse

    def counting(body: Any) -> Any:
        parsed.append(body["metadata"]["generation"])
        return original(body)

    monkeypatch.setattr(specs, "parse", counting)
    engine, kube, store = await _settled()
    tick = Tick(engine, NoSignals(), interval=60)
    await tick.once()
    await engine.reconcile(REF, trigger="child")
    assert parsed == [1]
    store.bodies[REF]["spec"]["serving"]["replicas"] = 2
    store.bodies[REF]["metadata"]["generation"] = 2
    await tick.once()
    await tick.once()
    assert parsed == [1, 2]
    assert kube.objects[("ml", *STABLE)]["spec"]["replicas"] == 2
