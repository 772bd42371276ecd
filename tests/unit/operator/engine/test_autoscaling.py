"""spec.serving.autoscaling through the one reconcile path (engine/fakes.py): the HPA is a
child like the others, the count it sets on the stable Deployment is neither restored nor
reported, its conditions become one Event per change, and it goes when autoscaling does."""

from __future__ import annotations

from typing import Any

from vigia_operator.core import reasons
from vigia_operator.core.config import OperatorSettings
from vigia_operator.core.types import ModelRef
from vigia_operator.engine.leader import Standalone
from vigia_operator.engine.observed import seen
from vigia_operator.engine.reconcile import Engine
from vigia_operator.kube.events import EventRecorder
from vigia_operator.status.writer import StatusWriter

from tests.unit.operator.engine.fakes import DictStore, FakeKube
from tests.unit.operator.schema import defaulted_sample

REF = ModelRef("ml", "sobaos")
HPA = ("HorizontalPodAutoscaler", "sobaos-stable")
STABLE = ("Deployment", "sobaos-stable")
SCALING = {"minReplicas": 2, "maxReplicas": 5, "target": {"cpuUtilization": 70}}



def autoscaled() -> dict[str, Any]:
    body = defaulted_sample()
    del body["spec"]["serving"]["replicas"]
    body["spec"]["serving"]["autoscaling"] = dict(SCALING)
    return body


def _engine(body: dict[str, Any]) -> tuple[Engine, FakeKube, DictStore]:
    kube, store = FakeKube(), DictStore()
    store.bodies[REF] = body
    recorder = EventRecorder(kube)
    engine = Engine(kube=kube, settings=OperatorSettings(), store=store,
                    writer=StatusWriter(kube, recorder), post=recorder, leader=Standalone())
    return engine, kube, store


def _edit(store: DictStore, key: tuple[str, str], change: Any) -> None:
    """What the watch delivers after someone else's write."""
    body = store.child_entries[REF][key].body
    change(body)
    body["metadata"]["resourceVersion"] = str(int(body["metadata"]["resourceVersion"]) + 500)
    store.child_entries[REF][key] = seen(body)


async def _settle(engine: Engine, kube: FakeKube, store: DictStore) -> None:
    await engine.reconcile(REF, trigger="event")
    store.catch_up(kube, REF)
    await engine.reconcile(REF, trigger="tick")
    store.catch_up(kube, REF)
    kube.calls.clear()
    kube.events.clear()


async def test_the_hpa_is_created_after_the_deployment_it_scales() -> None:
    engine, kube, _store = _engine(autoscaled())
    outcome = await engine.reconcile(REF, trigger="event")
    assert outcome.applied[-2:] == [STABLE, HPA]
    hpa = kube.objects[("ml", *HPA)]
    assert hpa["spec"]["scaleTargetRef"]["name"] == "sobaos-stable"
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 5)
    assert hpa["metadata"]["ownerReferences"][0]["controller"] is True
    # A new stable Deployment starts at minReplicas.
    assert kube.objects[("ml", *STABLE)]["spec"]["replicas"] == 2


async def test_a_count_the_autoscaler_set_is_neither_restored_nor_reported() -> None:
    engine, kube, store = _engine(autoscaled())
    await _settle(engine, kube, store)

    def scaled(body: dict[str, Any]) -> None:
        body["spec"]["replicas"] = 4  # the HPA's write, through the scale subresource
        body["metadata"]["managedFields"] = [{"manager": "vigia-operator", "operation": "Apply"},
                                             {"manager": "kube-controller-manager",
                                              "operation": "Update", "subresource": "scale",
                                              "fieldsV1": {"f:spec": {"f:replicas": {}}}}]

    _edit(store, STABLE, scaled)
    outcome = await engine.reconcile(REF, trigger="child")
    assert outcome.applied == []
    assert [e["reason"] for e in kube.events] == []
    assert kube.statuses[-1]["serving"]["replicas"] == 4
    assert kube.statuses[-1]["serving"].get("handEdits") == []


async def test_without_autoscaling_the_same_change_is_restored() -> None:
    engine, kube, store = _engine(defaulted_sample())
    await _settle(engine, kube, store)
    _edit(store, STABLE, lambda body: body["spec"].update(replicas=4))
    outcome = await engine.reconcile(REF, trigger="child")
    assert outcome.applied == [STABLE]
    assert kube.objects[("ml", *STABLE)]["spec"]["replicas"] == 1
    assert [e["reason"] for e in kube.events] == [reasons.RESTORED]


def _hpa_status(able: str, reason: str, message: str, current: int, desired: int) -> Any:
    def change(body: dict[str, Any]) -> None:
        body["status"] = {
            "currentReplicas": current, "desiredReplicas": desired,
            "lastScaleTime": "2026-12-07T18:00:00Z",
            "conditions": [
                {"type": "AbleToScale", "status": able, "reason": reason, "message": message},
                {"type": "ScalingActive", "status": "True", "reason": "ValidMetricFound",
                 "message": "the HPA was able to compute the replica count"}]}
    return change


async def test_status_shows_the_autoscaler_and_one_event_per_condition_change() -> None:
    engine, kube, store = _engine(autoscaled())
    await _settle(engine, kube, store)
    rescaled = "the HPA controller was able to update the target scale to 3"
    _edit(store, HPA, _hpa_status("True", "SucceededRescale", rescaled, 2, 3))
    await engine.reconcile(REF, trigger="child")
    scaling = kube.statuses[-1]["serving"]["autoscaling"]
    assert (scaling["currentReplicas"], scaling["desiredReplicas"]) == (2, 3)
    assert scaling["lastScaleReason"] == rescaled
    assert scaling["lastScaleTime"] == "2026-12-07T18:00:00Z"
    changed = [e for e in kube.events if e["reason"] == reasons.AUTOSCALER_CONDITION]
    assert len(changed) == 2  # AbleToScale and ScalingActive appeared
    able = next(e for e in changed if "AbleToScale" in e["message"])
    assert able["type"] == "Normal" and "2 current, 3 desired replicas (bounds 2-5)" in (
        able["message"])

    # The next rescale: a new count and message, the same conditions: no new Event.
    store.catch_up(kube, REF)
    kube.events.clear()
    again = "the HPA controller was able to update the target scale to 4"
    _edit(store, HPA, _hpa_status("True", "SucceededRescale", again, 3, 4))
    await engine.reconcile(REF, trigger="child")
    assert kube.statuses[-1]["serving"]["autoscaling"]["desiredReplicas"] == 4
    assert [e for e in kube.events if e["reason"] == reasons.AUTOSCALER_CONDITION] == []

    # A condition that turns bad: one Warning.
    store.catch_up(kube, REF)
    _edit(store, HPA, _hpa_status("False", "FailedGetScale", "no scale", 4, 4))
    await engine.reconcile(REF, trigger="child")
    (warning,) = [e for e in kube.events if e["reason"] == reasons.AUTOSCALER_CONDITION]
    assert warning["type"] == "Warning" and "AbleToScale is False (FailedGetScale)" in (
        warning["message"])


async def test_turning_autoscaling_off_deletes_the_hpa_and_fixes_the_count() -> None:
    body = autoscaled()
    engine, kube, store = _engine(body)
    await _settle(engine, kube, store)
    _edit(store, STABLE, lambda deployment: deployment["spec"].update(replicas=4))
    del body["spec"]["serving"]["autoscaling"]
    body["spec"]["serving"]["replicas"] = 3
    body["metadata"]["generation"] = 2
    outcome = await engine.reconcile(REF, trigger="event")
    assert ("delete", "HorizontalPodAutoscaler/sobaos-stable") in kube.calls
    assert ("ml", *HPA) not in kube.objects
    assert outcome.applied == [STABLE]
    assert kube.objects[("ml", *STABLE)]["spec"]["replicas"] == 3
    assert reasons.REMOVED in [e["reason"] for e in kube.events]
    assert kube.statuses[-1]["serving"]["autoscaling"] is None  # merge patch: removed


async def test_a_hand_edit_of_the_hpa_is_restored() -> None:
    engine, kube, store = _engine(autoscaled())
    await _settle(engine, kube, store)
    _edit(store, HPA, lambda hpa: hpa["spec"].update(maxReplicas=50))
    outcome = await engine.reconcile(REF, trigger="child")
    assert outcome.applied == [HPA]
    assert kube.objects[("ml", *HPA)]["spec"]["maxReplicas"] == 5
    (event,) = kube.events
    assert (event["reason"], event["message"]) == (
        reasons.RESTORED,
        "HorizontalPodAutoscaler sobaos-stable was changed (spec.maxReplicas); restored it.")
