"""How long the loop's intervals are: scaled down to minutes, or as shipped."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Scale:
    name: str
    tick_seconds: float  # the operator's: monitoring, canary analysis and retraining decisions
    monitoring_window: str
    monitoring_interval: str  # spec.monitoring.interval: how often each tick may evaluate it
    drift_min_samples: int
    normal_rows: int  # the normal day, each item's label sent back
    drifted_rows: int  # the drifted day (new flour supplier, humid weather)
    evaluation_rows: int  # drifted rows sent after the promotion, to measure recovery
    steps: list[dict[str, Any]] = field(default_factory=list)
    analysis: dict[str, Any] = field(default_factory=dict)
    # The traffic that keeps coming during the canary: rows per request, pause between.
    canary_batch: int = 10
    canary_pause: float = 0.2
    timeout_seconds: float = 600  # for any one step of the loop


# Drift must fill half the 5-minute window to be flagged; the canary's analyses look at
# 20 s of traffic (a few hundred labelled rows per track).
SCALED = Scale(
    name="scaled",
    tick_seconds=10,
    monitoring_window="5m",
    monitoring_interval="10s",
    drift_min_samples=1000,
    normal_rows=3000,
    drifted_rows=10000,
    evaluation_rows=4000,
    steps=[{"weight": 25, "pause": "20s"}, {"weight": 50, "pause": "20s"}],
    analysis={
        "interval": "20s", "minSamples": 20, "minFeedback": 100, "failureLimit": 2,
        "onNoData": "Inconclusive",
        # A shared two-core machine: latency moves by chance; accuracyDrop is judged on
        # every label since the canary started (a confidence sequence, docs/canary.md), a
        # few hundred per track per analysis; the prediction mix on as many rows.
        "gates": {"errorRate": 0.01, "latencyP95": 3.0, "accuracyDrop": 0.05,
                  "predictionShift": 0.3, "inputDrift": 0.2},
    },
)

# The shipped sample's intervals: the tick and rollout analysis every minute, a one-hour
# monitoring window (the shipped recording rules), pauses of 2 and 5 minutes. The canary's
# traffic must give each track minSamples requests per minute at 50%: ~3 requests a second.
FULL = Scale(
    name="full",
    tick_seconds=60,
    monitoring_window="1h",
    monitoring_interval="1m",
    drift_min_samples=1000,
    normal_rows=3000,
    drifted_rows=10000,
    evaluation_rows=4000,
    steps=[{"weight": 10, "pause": "2m"}, {"weight": 50, "pause": "5m"}],
    analysis={"interval": "1m", "minSamples": 40, "minFeedback": 200, "failureLimit": 2,
              "onNoData": "Inconclusive",
              "gates": {"errorRate": 0.01, "latencyP95": 3.0, "accuracyDrop": 0.03,
                        "predictionShift": 0.3, "inputDrift": 0.2}},
    timeout_seconds=1800,
)

SCALES = {s.name: s for s in (SCALED, FULL)}
