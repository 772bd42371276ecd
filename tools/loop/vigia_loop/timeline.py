"""What happened during the loop, when, and the numbers behind it."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Step(StrEnum):
    INSTALLED = "installed"
    DEPLOYED = "deployed"
    NORMAL_DAY = "normal day"
    NO_DRIFT = "no drift"
    DRIFT_ONSET = "drift onset"
    DRIFTED_DAY = "drifted day"
    DRIFT_DETECTED = "drift detected"
    JOB_STARTED = "retraining job"
    CANDIDATE = "candidate"
    CANARY_STARTED = "canary started"
    CANARY_STEP = "canary step"
    PROMOTED = "promoted"
    RECOVERED = "after promotion"
    JUDGED = "judged on its own"


@dataclass(frozen=True)
class Mark:
    step: Step
    at: float  # seconds since the loop began
    text: str
    numbers: dict[str, Any]


@dataclass
class Timeline:
    """Marks in the order they happened; each is printed as it is made."""

    out: Callable[[str], None] = print
    clock: Callable[[], float] = time.monotonic
    began: float | None = None
    marks: list[Mark] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.began is None:
            self.began = self.clock()

    def mark(self, step: Step, text: str, /, **numbers: Any) -> Mark:
        assert self.began is not None
        made = Mark(step, round(self.clock() - self.began, 1), text, numbers)
        self.marks.append(made)
        self.out(f"{_clock(made.at)}  {step:<16} {text}")
        return made

    def first(self, step: Step) -> Mark:
        return next(m for m in self.marks if m.step == step)

    def all(self, step: Step) -> list[Mark]:
        return [m for m in self.marks if m.step == step]

    def between(self, start: Step, end: Step) -> float:
        return round(self.first(end).at - self.first(start).at, 1)

    def summary(self) -> dict[str, Any]:
        """The figures: delays from the drift's onset, and accuracy in each phase."""
        onset = Step.DRIFT_ONSET
        return {
            "secondsFromDriftOnset": {
                "detected": self.between(onset, Step.DRIFT_DETECTED),
                "jobStarted": self.between(onset, Step.JOB_STARTED),
                "candidate": self.between(onset, Step.CANDIDATE),
                "promoted": self.between(onset, Step.PROMOTED),
            },
            "accuracy": {
                "beforeDrift": self.first(Step.NORMAL_DAY).numbers["accuracy"],
                "duringDrift": self.first(Step.DRIFTED_DAY).numbers["accuracy"],
                "afterPromotion": self.first(Step.RECOVERED).numbers["accuracy"],
            },
            "totalSeconds": self.marks[-1].at if self.marks else 0.0,
        }

    def render(self) -> str:
        figures = self.summary()
        delays = figures["secondsFromDriftOnset"]
        accuracy = figures["accuracy"]
        return "\n".join([
            "From the drift's onset: detected after "
            f"{_clock(delays['detected'])}, retraining Job at {_clock(delays['jobStarted'])}, "
            f"candidate at {_clock(delays['candidate'])}, promoted at "
            f"{_clock(delays['promoted'])}.",
            f"Accuracy: {accuracy['beforeDrift']:.1%} before the drift, "
            f"{accuracy['duringDrift']:.1%} during it, {accuracy['afterPromotion']:.1%} "
            "after the retrained model's promotion.",
            f"The whole loop: {_clock(figures['totalSeconds'])}.",
        ])


def _clock(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes:2d}:{rest:02d}"
