"""status.retraining as types, and back: what the retraining decisions read and write.

    lastTrigger: {reason, at, message}     what started the latest Job, with the numbers
    lastSkip:    {reason, trigger, at, message}   the latest due trigger that did not start
    job:         name of the latest Job
    result:      {job, verdict, message, candidateUri, at}
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

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Final, TypeVar

from vigia_operator.core.types import Obj

MAX_RUNS: Final = 10

R = TypeVar("R")


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _to_status(record: Any) -> Obj:
    return {_camel(f.name): getattr(record, f.name) for f in fields(record)
            if getattr(record, f.name) is not None}


def _from_status(cls: type[R], section: Any) -> R | None:
    """A flat record from its camelCase JSON; None when a required field is missing."""
    if not isinstance(section, Mapping):
        return None
    try:
        return cls(**{f.name: section[_camel(f.name)] for f in fields(cls)  # type: ignore[arg-type]
                      if _camel(f.name) in section})
    except TypeError:
        return None


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
class ResultRecord:
    job: str
    verdict: str
    message: str = ""
    at: str = ""
    candidate_uri: str | None = None


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
    def awaiting_result(self) -> bool:
        """A Job was started and its result is not in yet."""
        return bool(self.job) and (self.result is None or self.result.job != self.job)

    def to_status(self) -> Obj:
        out: Obj = {}
        for key, record in (("lastTrigger", self.last_trigger), ("lastSkip", self.last_skip),
                            ("result", self.result), ("candidate", self.candidate)):
            if record is not None:
                out[key] = _to_status(record)
        for key, value in (("job", self.job), ("schedule", self.schedule),
                           ("nextScheduled", self.next_scheduled),
                           ("cooldownUntil", self.cooldown_until)):
            if value:
                out[key] = value
        if self.runs:
            out["runs"] = [_to_status(run) for run in self.runs]
        return out

    @classmethod
    def from_status(cls, section: Any) -> RetrainingStatus:
        if not isinstance(section, Mapping):
            return cls()
        runs = (_from_status(RunRecord, run) for run in section.get("runs") or [])
        return cls(
            last_trigger=_from_status(TriggerRecord, section.get("lastTrigger")),
            last_skip=_from_status(SkipRecord, section.get("lastSkip")),
            job=section.get("job") or None,
            result=_from_status(ResultRecord, section.get("result")),
            candidate=_from_status(CandidateRecord, section.get("candidate")),
            runs=tuple(run for run in runs if run is not None),
            schedule=section.get("schedule") or None,
            next_scheduled=section.get("nextScheduled") or None,
            cooldown_until=section.get("cooldownUntil") or None,
        )
