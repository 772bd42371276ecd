"""A finished retraining Job's result (pure): from the Job and its pods to a ``RunResult``.

The job writes its JSON result (``vigia.retraining.RetrainResult``) to the container's
termination message; the Job's own conditions say how it ended when there is none (a
deadline, an image that cannot be pulled, a crash before the result was written).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from vigia.retraining import ACCEPTED, FAILED, REFUSED, RetrainResult, Verdict, parse_result
from vigia_operator.core.resources import JOB_CONTAINER
from vigia_operator.view.policy import store_uri


@dataclass(frozen=True)
class Candidate:
    version: str
    uri: str  # as the ModelDeployment spells it (pvc:// for a claim)
    digest: str
    report_uri: str
    html_report_uri: str | None = None


@dataclass(frozen=True)
class RunResult:
    verdict: Verdict
    message: str  # the reasons and numbers, one line
    candidate: Candidate | None = None
    metrics: Mapping[str, Any] | None = None


def job_finished(job: Mapping[str, Any]) -> str | None:
    """"Complete" or "Failed" once the Job controller has decided, else None."""
    for cond in (job.get("status") or {}).get("conditions") or []:
        if cond.get("type") in ("Complete", "Failed") and cond.get("status") == "True":
            return str(cond["type"])
    return None


def termination_message(pods: Sequence[Mapping[str, Any]]) -> str | None:
    """The retrain container's message in the newest terminated pod."""
    newest = sorted(pods, key=lambda p: (p.get("metadata") or {}).get("creationTimestamp", ""),
                    reverse=True)
    for pod in newest:
        for state in (pod.get("status") or {}).get("containerStatuses") or []:
            if state.get("name") != JOB_CONTAINER:
                continue
            terminated = (state.get("state") or {}).get("terminated") or {}
            if terminated.get("message"):
                return str(terminated["message"])
    return None


def read_result(job: Mapping[str, Any], pods: Sequence[Mapping[str, Any]]) -> RunResult:
    """How a finished Job ended, with the numbers."""
    message = termination_message(pods)
    if message is not None:
        try:
            return from_result(parse_result(message))
        except ValueError as error:
            failure = f"the termination message is not a result ({error}): {message[:300]}"
            return RunResult(FAILED, failure)
    cond = next((c for c in (job.get("status") or {}).get("conditions") or []
                 if c.get("type") == "Failed" and c.get("status") == "True"), None)
    if cond is not None:
        return RunResult(FAILED, f"Job failed: {cond.get('reason')}: {cond.get('message')}")
    return RunResult(FAILED, "Job completed without a result in its termination message.")


def from_result(result: RetrainResult) -> RunResult:
    reasons = "; ".join(f"{r.code}: {r.message}" if r.message else r.code
                        for r in result.reasons)
    numbers = _numbers(result.metrics or {})
    message = ", ".join(part for part in (reasons, numbers) if part) or result.verdict
    if result.verdict == ACCEPTED and result.candidate is not None:
        c = result.candidate
        html = None if c.html_report_uri is None else store_uri(c.html_report_uri)
        candidate = Candidate(c.version, store_uri(c.uri), c.digest, store_uri(c.report_uri),
                              html)
        return RunResult(ACCEPTED, message, candidate, result.metrics)
    verdict = REFUSED if result.verdict in (REFUSED, ACCEPTED) else FAILED
    return RunResult(verdict, message, None, result.metrics)


def _numbers(metrics: Mapping[str, Any], prefix: str = "") -> str:
    """Flat ``a.b=value`` of the numeric metrics, for messages."""
    parts: list[str] = []
    for key, value in metrics.items():
        if isinstance(value, bool):
            continue
        if isinstance(value, float):
            parts.append(f"{prefix}{key}={value:.4g}")
        elif isinstance(value, int):
            parts.append(f"{prefix}{key}={value}")
        elif isinstance(value, Mapping):
            nested = _numbers(value, f"{prefix}{key}.")
            if nested:
                parts.append(nested)
    return ", ".join(parts)
