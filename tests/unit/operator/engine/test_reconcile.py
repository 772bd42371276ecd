"""The one reconcile path, against an in-memory API (engine/fakes.py)."""

from __future__ import annotations

import asyncio
import copy
import time
from typing import Any

import pytest
from vigia_operator.core import reasons
from vigia_operator.core.config import OperatorSettings
from vigia_operator.core.types import MONITORING, MONITORING_AT, Event, ModelRef, Signals
from vigia_operator.decide.measurements import ModelSignals, TrackSignals
from vigia_operator.engine.leader import Standalone
from vigia_operator.engine.observed import seen
from vigia_operator.engine.reconcile import Engine, backoff, merge_events
from vigia_operator.kube.events import EventRecorder
from vigia_operator.status.writer import StatusWriter

from tests.unit.operator.engine.fakes import DictStore, FakeKube
from tests.unit.operator.schema import defaulted_sample

REF = ModelRef("ml", "sobaos")


class Follower:
    is_leader = False

    def acts_for(self, ref: ModelRef) -> bool:
        return False



def _engine(body: dict[str, Any], **settings: Any) -> tuple[Engine, FakeKube, DictStore]:
    kube, store = FakeKube(), DictStore()
    store.bodies[REF] = body
    recorder = EventRecorder(kube)
    engine = Engine(kube=kube, settings=OperatorSettings(**settings),
                    store=store, writer=StatusWriter(kube, recorder),
                    post=recorder, leader=Standalone())
    return engine, kube, store


def _reasons(kube: FakeKube) -> list[str]:
    return [e["reason"] for e in kube.events]


async def test_first_reconcile_creates_children_then_nothing_without_drift() -> None:
    engine, kube, store = _engine(defaulted_sample())
    outcome = await engine.reconcile(REF, trigger="event")
    assert [k for k, _ in outcome.applied] == ["ServiceAccount", "ConfigMap", "Service",
                                              "Deployment"]
    assert [c for c in kube.calls if c[0] == "get"] == [  # each name checked free first
        ("get", "ServiceAccount/sobaos-server"), ("get", "ConfigMap/sobaos-server"),
        ("get", "Service/sobaos"), ("get", "Deployment/sobaos-stable")]
    assert outcome.status_written and kube.statuses[-1]["phase"] == reasons.PHASE_PROGRESSING
    assert _reasons(kube) == [reasons.CREATED]

    # The watches have not delivered our own writes yet: still nothing to do.
    kube.calls.clear()
    again = await engine.reconcile(REF, trigger="child")
    assert (again.applied, again.status_written, kube.calls) == ([], False, [])

    # Once they have: a reconcile without drift makes no API call but the first tick's
    # status write (the retraining schedule's next run), and the next tick none at all.
    store.catch_up(kube, REF)
    kube.calls.clear()
    assert (await engine.reconcile(REF, trigger="tick")).applied == []
    assert kube.calls == [("status", "sobaos")]
    assert kube.statuses[-1]["retraining"]["nextScheduled"]
    store.catch_up(kube, REF)
    kube.calls.clear()
    assert (await engine.reconcile(REF, trigger="tick")).applied == []
    assert kube.calls == []


async def test_a_hand_edit_is_restored_and_reported() -> None:
    engine, kube, store = _engine(defaulted_sample())
    await engine.reconcile(REF, trigger="event")
    store.catch_up(kube, REF)
    key = ("Deployment", "sobaos-stable")
    deployment = store.child_entries[REF][key].body
    deployment["spec"]["paused"] = True  # `kubectl rollout pause`
    deployment["metadata"]["resourceVersion"] = "999"
    store.child_entries[REF][key] = seen(deployment)
    kube.events.clear()
    outcome = await engine.reconcile(REF, trigger="child")
    assert outcome.applied == [("Deployment", "sobaos-stable")]
    assert kube.objects[("ml", "Deployment", "sobaos-stable")]["spec"]["paused"] is False
    (event,) = kube.events
    assert event["reason"] == reasons.RESTORED and "spec.paused" in event["message"]


async def test_the_route_is_a_child_like_the_others() -> None:
    body = defaulted_sample()
    body["spec"]["rollout"]["traffic"] = {
        "router": "GatewayAPI", "httpRoute": {"name": "sobaos", "parentRefs": [{"name": "gw"}]}}
    engine, kube, store = _engine(body)
    outcome = await engine.reconcile(REF, trigger="event")
    assert outcome.applied[-1] == ("HTTPRoute", "sobaos")  # after the Services it points at
    store.catch_up(kube, REF)
    await engine.reconcile(REF, trigger="tick")
    store.catch_up(kube, REF)
    kube.calls.clear()
    kube.events.clear()
    assert (await engine.reconcile(REF, trigger="tick")).applied == []
    assert (kube.calls, kube.events) == ([], [])

    key = ("HTTPRoute", "sobaos")
    route = store.child_entries[REF][key].body
    for backend, weight in zip(route["spec"]["rules"][0]["backendRefs"], (50, 50), strict=True):
        backend["weight"] = weight  # kubectl patch
    route["metadata"]["resourceVersion"] = "999"
    store.child_entries[REF][key] = seen(route)
    outcome = await engine.reconcile(REF, trigger="child")
    assert outcome.applied == [key]
    applied = kube.objects[("ml", "HTTPRoute", "sobaos")]["spec"]["rules"][0]["backendRefs"]
    assert [b["weight"] for b in applied] == [100, 0]
    (event,) = kube.events
    assert (event["reason"], event["message"]) == (
        reasons.RESTORED, "HTTPRoute sobaos was changed (spec.rules); restored it.")


async def test_a_new_model_is_rolled_out_even_from_a_paused_child() -> None:
    engine, kube, store = _engine(defaulted_sample())
    await engine.reconcile(REF, trigger="event")
    store.catch_up(kube, REF)
    key = ("Deployment", "sobaos-stable")
    deployment = store.child_entries[REF][key].body
    deployment["spec"]["paused"] = True
    store.child_entries[REF][key] = seen(deployment)
    body = store.bodies[REF]
    body["spec"]["model"]["uri"] = "file:///models/sobaos/2"
    body["metadata"]["generation"] = 2
    kube.events.clear()
    await engine.reconcile(REF, trigger="event")
    applied = kube.objects[("ml", "Deployment", "sobaos-stable")]
    assert applied["spec"]["paused"] is False
    assert applied["metadata"]["annotations"]["vigia.dev/model-uri"] == "file:///models/sobaos/2"
    assert reasons.MODEL_CHANGED in _reasons(kube)
    assert kube.statuses[-1]["observedGeneration"] == 2


async def test_someone_elses_object_is_never_applied_to() -> None:
    engine, kube, _store = _engine(defaulted_sample())
    kube.objects[("ml", "Service", "sobaos")] = {
        "kind": "Service", "metadata": {"name": "sobaos", "namespace": "ml", "labels": {}}}
    outcome = await engine.reconcile(REF, trigger="event")
    assert outcome.refused == reasons.OBJECT_CONFLICT
    assert ("apply", "Service/sobaos") not in kube.calls
    assert kube.objects[("ml", "Service", "sobaos")]["metadata"]["labels"] == {}
    status = kube.statuses[-1]
    ready = next(c for c in status["conditions"] if c["type"] == reasons.READY)
    assert ready["reason"] == reasons.OBJECT_CONFLICT and "Service sobaos" in ready["message"]
    assert status["phase"] == reasons.PHASE_FAILED
    assert reasons.OBJECT_CONFLICT in _reasons(kube)


async def test_our_own_child_without_its_labels_is_restored() -> None:
    body = defaulted_sample()
    engine, kube, store = _engine(body)
    await engine.reconcile(REF, trigger="event")
    store.catch_up(kube, REF)
    await engine.reconcile(REF, trigger="child")  # the watch events of its own applies
    # Its labels removed, the ServiceAccount leaves the label-filtered index.
    del store.child_entries[REF][("ServiceAccount", "sobaos-server")]
    outcome = await engine.reconcile(REF, trigger="child")
    assert outcome.applied == [("ServiceAccount", "sobaos-server")]
    assert outcome.refused is None


@pytest.mark.parametrize(("overrides", "reason"), [
    ({"spec__serving__image": "evil/miner:1"}, reasons.IMAGE_NOT_ALLOWED),
    ({"spec__model": {"uri": "http://example.com/m.bentomodel"}}, reasons.SCHEME_NOT_ALLOWED),
    ({"spec__model": {"uri": "s3://bucket/m.bentomodel"}}, reasons.DIGEST_REQUIRED),
    ({"spec__serving__predictionLog__storeSecretRef": {"name": "db", "key": "url"}},
     reasons.SECRET_NOT_ALLOWED),
    # Issue 21: stored before the CRD refused them, these raised inside reconcile or let the
    # Job fetch anything; each is now a refusal naming the field.
    ({"spec__retraining": {"enabled": True, "dataset": {"uri": "pvc://data/../x.csv",
                                                        "target": "quality"}}},
     reasons.SCHEME_NOT_ALLOWED),
    ({"spec__retraining": {"enabled": True, "dataset": {"uri": "http://10.0.0.1/creds.csv",
                                                        "target": "quality"}}},
     reasons.SCHEME_NOT_ALLOWED),
    ({"spec__rollout__traffic": {"router": "GatewayAPI", "httpRoute": {
        "name": "r", "parentRefs": [{"name": "public", "namespace": "infra"}]}}},
     reasons.GATEWAY_NOT_ALLOWED),
    ({"spec__rollout__traffic": {"router": "GatewayAPI", "httpRoute": {
        "name": "r", "parentRefs": [{"name": "gw"}], "hostnames": ["pay.example.com"]}}},
     reasons.HOSTNAME_NOT_ALLOWED),
])
async def test_refused_specs_apply_nothing(overrides: dict[str, Any], reason: str) -> None:
    engine, kube, _store = _engine(defaulted_sample(**overrides))
    outcome = await engine.reconcile(REF, trigger="event")
    assert outcome.refused == reason
    assert not [c for c in kube.calls if c[0] == "apply"]
    degraded = next(c for c in kube.statuses[-1]["conditions"] if c["type"] == "Degraded")
    assert (degraded["status"], degraded["reason"]) == ("True", reason)
    assert _reasons(kube) == [reason]


async def test_a_labelled_secret_is_allowed_and_asked_once() -> None:
    engine, kube, store = _engine(defaulted_sample(
        spec__serving__predictionLog__storeSecretRef={"name": "db", "key": "url"}))
    kube.objects[("ml", "Secret", "db")] = {
        "kind": "Secret", "metadata": {"name": "db", "labels": {"vigia.dev/model-access": "true"}},
        "data": {"url": "c2VjcmV0"}}
    assert (await engine.reconcile(REF, trigger="event")).refused is None
    store.catch_up(kube, REF)
    kube.calls.clear()
    await engine.reconcile(REF, trigger="tick")
    assert [c for c in kube.calls if c[0] == "get"] == []  # the label check is remembered


async def test_a_follower_does_nothing() -> None:
    engine, kube, _store = _engine(defaulted_sample())
    engine.leader = Follower()
    assert (await engine.reconcile(REF, trigger="event")).skipped
    assert kube.calls == []


def test_events_of_one_reconcile_are_merged() -> None:
    merged = merge_events([Event("Normal", "Created", "ConfigMap a"),
                           Event("Normal", "Created", "Deployment b"),
                           Event("Warning", "Restored", "x")])
    assert [(e.reason, e.message) for e in merged] == [
        ("Created", "Created ConfigMap a, Deployment b."), ("Restored", "x")]


def test_backoff_grows_and_is_capped() -> None:
    assert [backoff(n) for n in (0, 1, 2, 3)] == [1.0, 2.0, 4.0, 8.0]
    assert backoff(20) == 60.0


def test_fakes_copy() -> None:  # the fakes never share state with the caller
    body = defaulted_sample()
    assert copy.deepcopy(body) == body


async def test_a_burst_of_events_is_one_reconcile() -> None:
    engine, kube, _store = _engine(defaulted_sample())
    for _ in range(5):
        engine.enqueue(REF, "child")
    worker = asyncio.ensure_future(engine.work())
    for _ in range(50):
        await asyncio.sleep(0)
    worker.cancel()
    assert [c for c in kube.calls if c[0] == "status"] == [("status", "sobaos")]
    assert len([c for c in kube.calls if c[0] == "apply"]) == 4


def _with_candidate(spec_uri: str) -> dict[str, Any]:
    body = defaulted_sample()
    body["status"] = {
        "stable": {"uri": "file:///models/sobaos/1", "version": "1"},
        "retraining": {"candidate": {
            "version": "2", "uri": "file:///models/sobaos/2", "approved": True,
            "approvedBy": "Auto", "specUri": spec_uri}},
    }
    return body


def _served(kube: FakeKube, name: str) -> str | None:
    deployment = next((o for (_, kind, n), o in kube.objects.items()
                       if kind == "Deployment" and n == name), None)
    if deployment is None:
        return None
    env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    return next(e["value"] for e in env if e["name"] == "VIGIA_MODEL_URI")


async def test_an_approved_candidate_is_rolled_out_as_the_canary() -> None:
    engine, kube, _ = _engine(_with_candidate("file:///models/sobaos/1"))
    await engine.reconcile(REF, trigger="event")
    assert _served(kube, "sobaos-stable") == "file:///models/sobaos/1"
    assert _served(kube, "sobaos-canary") == "file:///models/sobaos/2"
    assert kube.statuses[-1]["canary"]["version"] == "2"


async def test_a_decisions_events_follow_the_status_that_records_them() -> None:
    """Whoever reads the RolloutStarted Event reads a status with the canary in it."""
    engine, kube, _ = _engine(_with_candidate("file:///models/sobaos/1"))
    recorder = engine._post
    canary_written_at_post: dict[str, bool] = {}

    async def post(body: dict[str, Any], event: Event) -> None:
        written = bool(kube.statuses) and "canary" in kube.statuses[-1]
        canary_written_at_post.setdefault(event.reason, written)
        await recorder(body, event)

    engine._post = post
    await engine.reconcile(REF, trigger="event")
    assert canary_written_at_post[reasons.ROLLOUT_STARTED] is True


async def test_a_model_set_after_the_candidates_job_wins_over_it() -> None:
    engine, kube, _ = _engine(_with_candidate("file:///models/sobaos/0"))
    await engine.reconcile(REF, trigger="event")
    assert _served(kube, "sobaos-canary") is None
    assert _served(kube, "sobaos-stable") == "file:///models/sobaos/1"


async def test_a_drift_flagged_on_a_tick_starts_its_retraining_on_the_same_tick() -> None:
    # The sample has no store: retraining on the base dataset alone (NoDurableStore else).
    body = defaulted_sample(spec__retraining__triggers={"drift": True, "accuracy": False},
                            spec__retraining__includeFeedback=False)
    engine, kube, store = _engine(body)
    await engine.reconcile(REF, trigger="event")
    store.catch_up(kube, REF)
    track = TrackSignals(feature_psi={"oven_temperature": 0.7}, predictions=5000.0,
                         feedback=10.0, last_scrape=time.time() - 5)
    signals = Signals("t", values={MONITORING: ModelSignals(tracks={("stable", "1"): track}),
                                   MONITORING_AT: time.time()})
    kube.calls.clear()
    await engine.reconcile(REF, trigger="tick", signals=signals)
    assert kube.calls.count(("create", "Job")) == 1
    patch = kube.statuses[-1]  # the tick's one write: the drift and the Job it started
    assert next(c for c in patch["conditions"] if c["type"] == "Drifted")["status"] == "True"
    assert patch["retraining"]["lastTrigger"]["reason"] == reasons.TRIGGER_DRIFT
