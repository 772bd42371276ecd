"""One rollout step from status and observed Deployments, as the engine runs it."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

import pytest
from vigia_operator.children.serving import build_configmap, build_deployment
from vigia_operator.decide.rollout.gates import Measurements, TrackMeasurements
from vigia_operator.decide.rollout.model import Analysis, CanaryState
from vigia_operator.decide.rollout.sequential import Labels
from vigia_operator.decide.rollout.state import iso
from vigia_operator.decide.rollout.step import (
    Measured,
    RolloutStep,
    labels_so_far,
    observe_tracks,
    step,
)
from vigia_operator.status.rollout import rollout_status
from vigia_operator.view import Model, parse
from vigia_operator.view.rollout import parse_rollout

from tests.unit.operator.decide.rollout.helpers import V2, at
from tests.unit.operator.schema import defaulted_sample, schema, undeclared

BODY = defaulted_sample()
MD1 = parse(BODY)
MD2 = replace(MD1, model=Model(uri="file:///models/iris/v2", digest=None, version="v2"),
              serving=replace(MD1.serving, replicas=4))
SPEC = parse_rollout({"rollout": {"steps": [{"weight": 25, "pause": "30s"}],
                                  "analysis": {"interval": "10s", "minSamples": 10,
                                               "skipGates": ["inputDrift"]}}})


def _deployment(md, track: str, *, replicas: int, ready: int, updated: int | None = None,
                generation: int = 1, observed: int = 1) -> dict[str, Any]:
    obj = build_deployment(replace(md, serving=replace(md.serving, replicas=replicas)),
                           build_configmap(md), track)
    obj["metadata"]["generation"] = generation
    updated = ready if updated is None else updated
    obj["status"] = {"observedGeneration": observed, "replicas": updated,
                     "updatedReplicas": updated, "readyReplicas": ready,
                     "availableReplicas": ready}
    return obj


def _stable_status(md=MD1) -> dict[str, Any]:
    return {"stable": {"version": md.model.version, "uri": md.model.uri,
                       "since": "2026-11-23T17:00:00Z"}}


def status_sections(result: RolloutStep, status: dict, now: datetime) -> dict:
    """The sections as written (status.rollout owns them)."""
    return rollout_status(result, status, now).to_status()


def test_observed_counts_only_ready_pods_of_the_current_template() -> None:
    stable = _deployment(MD1, "stable", replicas=3, ready=3)
    canary = _deployment(MD2, "canary", replicas=1, ready=1)
    obs = observe_tracks(stable, canary)
    assert (obs.stable_ready, obs.stable_complete, obs.canary_ready) == (3, True, 1)
    assert obs.canary_serves == MD2.model.uri
    assert obs.settled and obs.stable_desired == 3
    stale = _deployment(MD2, "canary", replicas=1, ready=1, generation=2, observed=1)
    assert observe_tracks(stable, stale).canary_ready == 0
    assert not observe_tracks(stable, stale).settled
    rolling = _deployment(MD1, "stable", replicas=3, ready=3, updated=1)
    assert observe_tracks(rolling, None).stable_ready == 1
    assert not observe_tracks(rolling, None).stable_complete


def test_first_version_becomes_stable_once_its_deployment_is_complete() -> None:
    pending = step(MD1, SPEC, {}, None, _deployment(MD1, "stable", replicas=1, ready=0),
                   None, None, at(0))
    assert status_sections(pending, {}, at(0))["stable"] is None
    done = step(MD1, SPEC, {}, None, _deployment(MD1, "stable", replicas=1, ready=1), None,
                None, at(5))
    sections = status_sections(done, {}, at(5))
    assert sections["stable"]["uri"] == MD1.model.uri and sections["stable"]["since"] == iso(
        at(5))
    assert sections["canary"] is None and sections["history"] == []


def test_a_model_change_starts_a_canary_and_plans_both_tracks() -> None:
    stable = _deployment(MD1, "stable", replicas=4, ready=4)
    result = step(MD2, SPEC, _stable_status(), None, stable, None, None, at(0))
    assert result.decision.canary is not None
    assert (result.traffic.stable_replicas, result.traffic.canary_replicas) == (4, 1)
    sections = status_sections(result, _stable_status(), at(0))
    assert sections["canary"]["version"] == "v2" and sections["canary"]["weight"] == 25
    assert sections["stable"]["since"] == "2026-11-23T17:00:00Z"


def test_measurements_are_analysed_only_for_a_progressing_canary() -> None:
    status = _stable_status()
    started = step(MD2, SPEC, status, None, _deployment(MD1, "stable", replicas=4, ready=4),
                   None, None, at(0))
    status = {**status, **status_sections(started, status, at(0))}
    track = TrackMeasurements(requests=100, errors=30, latency_p95_s=0.01,
                              feedback_correct=90, feedback_total=100,
                              predictions={"a": 50, "b": 50})
    measured = Measured(Measurements(canary=track, stable=replace(track, errors=0)))
    result = step(MD2, SPEC, status, None, _deployment(MD1, "stable", replicas=3, ready=3),
                  _deployment(MD2, "canary", replicas=1, ready=1), measured, at(10))
    assert result.analysis is not None and result.analysis.verdict == "Fail"
    assert result.decision.canary is not None and result.decision.canary.failures == 1
    assert result.observed.canary_ready == 1 and result.decision.canary.achieved_weight == 25
    unavailable = step(MD2, SPEC, status, None, _deployment(MD1, "stable", replicas=3, ready=3),
                       _deployment(MD2, "canary", replicas=1, ready=1),
                       Measured(None, "Prometheus unreachable"), at(10))
    assert unavailable.analysis is not None and unavailable.analysis.verdict == "Inconclusive"
    assert "Prometheus unreachable" in unavailable.analysis.message


def test_promotion_writes_the_new_stable_and_history() -> None:
    status = _stable_status()
    canary = {"version": "v2", "uri": MD2.model.uri, "phase": "Promoting", "step": 1,
              "weight": 25, "achievedWeight": 25, "canaryReplicas": 1,
              "startedAt": "2026-11-23T17:59:00Z", "failures": 0, "paused": False,
              "message": "Promoting canary v2", "outcome": "Promoted"}
    status = {**status, "canary": canary}
    stable = _deployment(MD2, "stable", replicas=4, ready=4)
    result = step(MD2, SPEC, status, None, stable,
                  _deployment(MD2, "canary", replicas=1, ready=1), None, at(30))
    sections = status_sections(result, status, at(30))
    assert sections["canary"] is None
    assert sections["stable"]["uri"] == MD2.model.uri and sections["stable"]["since"] == iso(
        at(30))
    assert [(h["version"], h["outcome"]) for h in sections["history"]] == [("v2", "Promoted")]


def test_feedback_labels_accumulate_through_status_from_analysis_to_analysis() -> None:
    """The accuracy test judges every label since the canary started: each recorded
    analysis adds its window to the counts the previous one wrote in status (in a field the
    CRD declares, or the API server would prune it and the counts restart every time)."""
    status = _stable_status()
    started = step(MD2, SPEC, status, None, _deployment(MD1, "stable", replicas=4, ready=4),
                   None, None, at(0))
    status = {**status, **status_sections(started, status, at(0))}
    track = TrackMeasurements(requests=100, latency_p95_s=0.01, feedback_correct=27,
                              feedback_total=30, predictions={"a": 50, "b": 50})
    measured = Measured(Measurements(canary=track, stable=replace(track, feedback_total=120,
                                                                  feedback_correct=108)))
    deployments = (_deployment(MD1, "stable", replicas=3, ready=3),
                   _deployment(MD2, "canary", replicas=1, ready=1))
    totals = []
    for seconds in (10, 15, 20, 30):  # 15 is not due (interval 10s): its window not kept
        result = step(MD2, SPEC, status, None, *deployments, measured, at(seconds))
        status = {**status, **status_sections(result, status, at(seconds))}
        labels = status["canary"]["lastAnalysis"]["labels"]
        totals.append((labels["canary"], labels["stable"]))
    assert totals == [(30, 120), (30, 120), (60, 240), (90, 360)]
    gate = next(g for g in status["canary"]["lastAnalysis"]["gates"]
                if g["name"] == "accuracyDrop")
    assert (gate["samples"], gate["stableSamples"]) == (90, 360)
    assert gate["low"] < gate["value"] < gate["high"]
    node = schema()["properties"]["status"]["properties"]["canary"]
    assert undeclared(status["canary"], node, "status.canary") == []


def test_a_window_partly_counted_by_the_last_analysis_adds_only_the_rest() -> None:
    last = Analysis(at=at(0), verdict="Inconclusive", canary_samples=0, stable_samples=0,
                    gates=(), message="", canary_labels=Labels(9, 10),
                    stable_labels=Labels(18, 20))
    canary = CanaryState(version=V2, phase="Progressing", step=0, weight=10,
                         achieved_weight=10, canary_replicas=1, started_at=at(0),
                         step_started_at=at(0), failures=0, paused=False, last_analysis=last,
                         message="")
    so_far = labels_so_far(canary, interval_s=10, now=at(9))
    assert (so_far.canary, so_far.stable) == (Labels(9, 10), Labels(18, 20))
    assert so_far.new_share == pytest.approx(0.9)
    assert labels_so_far(replace(canary, last_analysis=None), 10, at(9)).new_share == 1.0


def test_beside_an_autoscaled_stable_the_canary_follows_its_current_count() -> None:
    from vigia_operator.view.autoscaling import Autoscaling

    scaling = Autoscaling(min_replicas=2, max_replicas=10, cpu_utilization=60,
                          requests_per_second=None)
    md2 = replace(MD2, serving=replace(MD2.serving, replicas=2, autoscaling=scaling))
    half = parse_rollout({"rollout": {"steps": [{"weight": 50, "pause": "30s"}]}})
    stable = _deployment(MD1, "stable", replicas=3, ready=3)  # the HPA's count
    started = step(md2, half, _stable_status(), None, stable, None, None, at(0))
    assert started.fleet == 3
    assert (started.traffic.stable_replicas, started.traffic.canary_replicas) == (3, 3)
    status = {**_stable_status(), **status_sections(started, _stable_status(), at(0))}
    # The HPA scales the stable to 5: the canary follows, the stable is left at 5.
    scaled = _deployment(MD1, "stable", replicas=5, ready=5)
    canary = _deployment(md2, "canary", replicas=3, ready=3)
    later = step(md2, half, status, None, scaled, canary, None, at(5))
    assert (later.traffic.stable_replicas, later.traffic.canary_replicas) == (5, 5)
    assert later.decision.canary is not None and later.decision.canary.canary_replicas == 5
    assert later.fleet == 5
