"""Builders of rollout inputs for the unit tests."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from vigia_operator.decide.rollout.gates import Measurements, TrackMeasurements, analyse
from vigia_operator.decide.rollout.machine import Inputs, decide
from vigia_operator.decide.rollout.model import (
    Analysis,
    CanaryState,
    Observed,
    RolloutDecision,
    Verdict,
    Version,
)
from vigia_operator.view.rollout import RolloutSpec, parse_rollout

T0 = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)
V1 = Version("v1", "file:///models/iris/v1")
V2 = Version("v2", "file:///models/iris/v2")
V3 = Version("v3", "file:///models/iris/v3")


def rollout_spec(**analysis: Any) -> RolloutSpec:
    """Two steps (10% for 1m, 50% for 2m), analysis every 30s, failureLimit 2."""
    return parse_rollout({"rollout": {
        "steps": [{"weight": 10, "pause": "1m"}, {"weight": 50, "pause": "2m"}],
        "analysis": {"interval": "30s", "minSamples": 100, "failureLimit": 2, **analysis},
    }})


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def observed(*, stable_ready: int = 4, stable_serves: str = V1.uri, stable_complete: bool = True,
             canary_ready: int = 0, canary_pods: int | None = None,
             canary_serves: str | None = V2.uri, settled: bool = True,
             stable_desired: int | None = None) -> Observed:
    return Observed(
        stable_ready=stable_ready, stable_serves=stable_serves, stable_complete=stable_complete,
        canary_ready=canary_ready,
        canary_pods=canary_ready if canary_pods is None else canary_pods,
        canary_serves=canary_serves, settled=settled, stable_desired=stable_desired,
    )


def analysis(verdict: Verdict, now: datetime, samples: int = 500) -> Analysis:
    return Analysis(at=now, verdict=verdict, canary_samples=samples, stable_samples=samples,
                    gates=(), message=f"{verdict} with {samples} samples")


def measured_analysis(spec: RolloutSpec, now: datetime, *, canary_errors: float = 0.0,
                      requests: float = 500.0) -> Analysis:
    track = TrackMeasurements(requests=requests, latency_p95_s=0.01, feedback_correct=95,
                              feedback_total=100, predictions={"a": 50, "b": 50},
                              input_drift=0.05)
    return analyse(spec.analysis, Measurements(
        canary=replace(track, errors=canary_errors), stable=track), now)


def inputs(spec: RolloutSpec | None = None, **overrides: Any) -> Inputs:
    base: dict[str, Any] = dict(
        spec=spec or rollout_spec(), replicas=4, target=V2, stable=V1, canary=None,
        last_ended=None, analysis=None, command=None, observed=observed(), now=T0,
    )
    base.update(overrides)
    return Inputs(**base)


def decide_with(i: Inputs) -> RolloutDecision:
    """decide(), with the canary state round-tripped through status as the operator does."""
    from vigia_operator.decide.rollout.state import canary_from_status, canary_to_status

    canary = None if i.canary is None else canary_from_status(canary_to_status(i.canary))
    return decide(replace(i, canary=canary))


def started(spec: RolloutSpec | None = None, **overrides: Any) -> CanaryState:
    decision = decide(inputs(spec, **overrides))
    assert decision.canary is not None
    return decision.canary
