"""status.retraining as types, and back: what the retraining decisions read and write.

    lastTrigger: {reason, at, message}     what started the latest Job, with the numbers
    lastSkip:    {reason, trigger, at, message}   the latest due trigger that did not start
    job:         name of the latest Job
    result:      {job, verdict, message (one sentence), candidateUri, at,
                  metrics: {recent, holdout: {rows, currentAccuracy, candidateAccuracy},
                            minImprovement, maxHoldoutLoss}}
    candidate:   {version, uri, digest, reportUri, htmlReportUri?, job, at, approved,
                  approvedBy, approvedAt?, specUri}
    nextScheduled, cooldownUntil, schedule
    runs:        [{job, trigger, specUri, startedAt, finishedAt, verdict, message}], newest
                 first, at most MAX_RUNS

Reading is lenient (a section written by an older operator or by hand): a record it
cannot read is left out, never an exception. Writing drops empty fields, so a field that
goes (a skip once its trigger is gone) is sent as null by the status writer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from vigia_operator.core.records import from_json, to_json
from vigia_operator.core.types import Obj

MAX_RUNS: Final = 10

@dataclass(frozen=True)
class TriggerRecord:
    reason: str  # reasons.TRIGGER_*
    at: str
    message: str = ""


@dataclass(frozen=True)
class SkipRecord:
    reason: str  # reasons.SKIP_* or IMAGE_NOT_ALLOWED
    trigger: str
    at: str
    message: str = ""


@dataclass(frozen=True)
class AccuracyComparison:
    """Both models' accuracy on the same labelled rows."""

    rows: int
    current_accuracy: float
    candidate_accuracy: float


@dataclass(frozen=True)
class ResultMetrics:
    """The numbers the gate decided on (status.retraining.result.metrics)."""

    recent: AccuracyComparison | None = None  # recent labelled feedback
    holdout: AccuracyComparison | None = None  # the original holdout
    min_improvement: float | None = None  # the gate's settings, as fractions
    max_holdout_loss: float | None = None


@dataclass(frozen=True)
class ResultRecord:
    job: str
    verdict: str
    message: str = ""
    at: str = ""
    candidate_uri: str | None = None
    metrics: ResultMetrics | None = None


@dataclass(frozen=True)
class CandidateRecord:
    version: str
    uri: str
    digest: str | None = None
    report_uri: str = ""
    job: str = ""
    at: str = ""
    approved: bool = False
    approved_by: str = ""
    spec_uri: str | None = None  # spec.model.uri when its Job started
    html_report_uri: str | None = None
    approved_at: str | None = None


@dataclass(frozen=True)
class RunRecord:
    job: str
    trigger: str = ""
    started_at: str = ""
    version: str | None = None  # of the candidate the Job trains
    spec_uri: str | None = None
    finished_at: str | None = None
    verdict: str | None = None
    message: str | None = None


@dataclass(frozen=True)
class RetrainingStatus:
    last_trigger: TriggerRecord | None = None
    last_skip: SkipRecord | None = None
    job: str | None = None
    result: ResultRecord | None = None
    candidate: CandidateRecord | None = None
    runs: tuple[RunRecord, ...] = ()
    schedule: str | None = None
    next_scheduled: str | None = None
    cooldown_until: str | None = None

    @property
    def versions(self) -> set[str]:
        """Every candidate version this section names."""
        named = {run.version for run in self.runs if run.version}
        return named | ({self.candidate.version} if self.candidate else set())

    @property
    def awaiting_result(self) -> bool:
        """A Job was started and its result is not in yet."""
        return bool(self.job) and (self.result is None or self.result.job != self.job)

    def to_status(self) -> Obj:
        written: Obj = to_json(self)
        if not self.runs:
            written.pop("runs", None)
        return written

    @classmethod
    def from_status(cls, section: Any) -> RetrainingStatus:
        return from_json(cls, section) or cls()
