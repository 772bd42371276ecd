"""The values a rollout decision reads and writes: spec, versions, analysis, canary state."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Final, Literal

from vigia.costs import figure
from vigia_operator.core.types import Event
from vigia_operator.decide.rollout.sequential import Labels
from vigia_operator.view.rollout import NoDataPolicy, Router  # noqa: F401  (re-read by the machine)

Verdict = Literal["Pass", "Fail", "Inconclusive"]
GateOutcome = Literal["Pass", "Fail", "NoData"]
Phase = Literal["Progressing", "Promoting", "RollingBack"]
Ending = Literal["Promoted", "RolledBack", "Aborted", "Superseded"]

PASS: Final = "Pass"
FAIL: Final = "Fail"
INCONCLUSIVE: Final = "Inconclusive"
NO_DATA: Final = "NoData"

PROGRESSING: Final = "Progressing"
PROMOTING: Final = "Promoting"
ROLLING_BACK: Final = "RollingBack"

PROMOTED: Final = "Promoted"
ROLLED_BACK: Final = "RolledBack"
ABORTED: Final = "Aborted"
SUPERSEDED: Final = "Superseded"

@dataclass(frozen=True)
class Version:
    """One model version; two are the same rollout target when all three fields agree."""

    version: str
    uri: str
    digest: str | None = None


@dataclass(frozen=True)
class GateResult:
    """One gate of one analysis: what was measured, against what, and how it came out."""

    name: str
    value: float | None
    threshold: float
    outcome: GateOutcome
    samples: int  # the observations behind value (requests, feedback or predictions)
    # A confidence sequence's interval around value, for a gate judged sequentially
    # (accuracyDrop), with the stable track's observations behind it.
    low: float | None = None
    high: float | None = None
    stable_samples: int | None = None
    unit: str | None = None  # a value in the business's unit (costIncrease)

    def describe(self) -> str:
        if self.value is None:
            return f"{self.name} no data ({self.samples} samples)"
        if self.unit is not None:
            return self._amount(self.value)
        if self.low is not None and self.high is not None:
            return self._interval(self.value, self.low, self.high)
        sign = "≤" if self.outcome == PASS else ">"
        return f"{self.name} {self.value:.4g} {sign} {self.threshold:g}"

    def _interval(self, value: float, low: float, high: float) -> str:
        """"accuracyDrop 0.10 [0.06, 0.14] > 0.02 (380 canary, 1510 stable labels)": two
        decimals, as the numbers fit in a message quoted by another."""
        judged = {PASS: "≤", FAIL: ">"}.get(self.outcome)
        limit = f"{judged} {self.threshold:g}" if judged else f"undecided at {self.threshold:g}"
        return (f"{self.name} {_two(value)} [{_two(low)}, {_two(high)}] {limit} "
                f"({self.samples} canary, {self.stable_samples or 0} stable labels)")


    def _amount(self, value: float) -> str:
        """"costIncrease 182 [132, 232] per 1,000 cakes > 0 (380 canary, 1510 stable
        labels)": the difference, its 95% interval and the counts behind it."""
        sign = "≤" if self.outcome == PASS else ">"
        interval = ("" if self.low is None or self.high is None
                    else f" [{figure(self.low)}, {figure(self.high)}]")
        return (f"{self.name} {figure(value)}{interval} {self.unit} {sign} {self.threshold:g} "
                f"({self.samples} canary, {self.stable_samples or 0} stable labels)")


def _two(value: float) -> str:
    """Two decimals, never "-0.00"."""
    return f"{round(value, 2) + 0.0:.2f}"


@dataclass(frozen=True)
class Analysis:
    """Canary against stable over one window, with every measured value."""

    at: datetime
    verdict: Verdict
    canary_samples: int
    stable_samples: int
    gates: tuple[GateResult, ...]
    message: str
    no_data: bool = False  # the verdict came from onNoData, not from measurements
    canary_feedback: int = 0  # feedback labels in the window
    stable_feedback: int = 0
    # Feedback labels since the canary started, this window's included: what the
    # sequential accuracyDrop test judges, carried from one analysis to the next.
    canary_labels: Labels = field(default_factory=Labels)
    stable_labels: Labels = field(default_factory=Labels)


@dataclass(frozen=True)
class CanaryState:
    """A rollout in flight; it lives in status.canary, so a restarted operator resumes it."""

    version: Version
    phase: Phase
    step: int  # index into spec steps; len(steps) is full weight
    weight: int  # requested canary weight, percent
    achieved_weight: int
    canary_replicas: int  # requested canary pods (Replicas router), kept for a gradual abort
    started_at: datetime
    step_started_at: datetime | None  # when this step's weight was first reached
    failures: int
    paused: bool
    last_analysis: Analysis | None
    message: str
    outcome: Ending | None = None  # how it ends, once Promoting or RollingBack


@dataclass(frozen=True)
class HistoryEntry:
    version: Version
    outcome: Ending
    at: datetime
    message: str


@dataclass(frozen=True)
class Observed:
    """What the cluster shows about the two tracks."""

    stable_ready: int
    stable_serves: str | None  # model URI of the stable Deployment's template
    stable_complete: bool  # every stable pod runs that template and is available
    canary_ready: int  # ready canary pods running canary_serves
    canary_pods: int  # canary pods that exist, ready or not
    canary_serves: str | None = None  # model URI of the canary Deployment's template
    # False right after a Deployment's spec changed (a scale included) until its controller
    # has observed it: its status still counts the previous spec's pods, so the ready
    # counts above are not to be trusted for a split (a Flagger/Argo Rollouts rule too).
    settled: bool = True
    stable_desired: int | None = None  # spec.replicas of the stable Deployment, if any


@dataclass(frozen=True)
class RolloutDecision:
    """What the rollout should look like now, and what to tell about it."""

    stable: Version  # the version status.stable names
    stable_serving: Version  # the version the stable Deployment runs (ahead while promoting)
    canary: CanaryState | None
    reason: str  # CamelCase, for the Progressing condition
    message: str  # the same, for people, with the numbers
    ended: tuple[HistoryEntry, ...] = ()
    events: tuple[Event, ...] = field(default=())
    clear_command: bool = False
