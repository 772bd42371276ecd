"""A finished retraining Job's result (pure): from the Job and its pods to a ``RunResult``.

The job writes its JSON result (``vigia.retraining.RetrainResult``) to the container's
termination message; the Job's own conditions say how it ended when there is none (a
deadline, an image that cannot be pulled, a crash before the result was written).
Only the Job's own pods count (an ownerReference with its uid): a label is not proof,
anyone who may create a pod can put the Job's name label on it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from vigia.retraining import (
    ACCEPTED,
    FAILED,
    REFUSED,
    Reason,
    RetrainResult,
    Verdict,
    parse_result,
)
from vigia_operator.core.resources import JOB_CONTAINER
from vigia_operator.core.text import MAX_MESSAGE, one_sentence
from vigia_operator.decide.retraining.state import AccuracyComparison, ResultMetrics
from vigia_operator.view.policy import store_uri

# A message a person reads in `kubectl describe`: one sentence that fits a terminal line.
MAX_SENTENCE: Final = MAX_MESSAGE
# The gate's reasons the accuracy clauses say themselves.
ACCURACY_CODES: Final = frozenset({Reason.NOT_ENOUGH_IMPROVEMENT, Reason.HOLDOUT_REGRESSION})


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
    message: str  # the judgement and its numbers, one sentence (``judgement``)
    candidate: Candidate | None = None
    metrics: ResultMetrics | None = None


def job_finished(job: Mapping[str, Any]) -> str | None:
    """"Complete" or "Failed" once the Job controller has decided, else None."""
    for cond in (job.get("status") or {}).get("conditions") or []:
        if cond.get("type") in ("Complete", "Failed") and cond.get("status") == "True":
            return str(cond["type"])
    return None


def owned_pods(job: Mapping[str, Any], pods: Sequence[Mapping[str, Any]]
               ) -> list[Mapping[str, Any]]:
    """The pods among ``pods`` that the Job controls (ownerReferences name its uid)."""
    uid = (job.get("metadata") or {}).get("uid")
    if not uid:
        return []
    return [pod for pod in pods
            if any(ref.get("uid") == uid and ref.get("kind") == "Job" and ref.get("controller")
                   for ref in (pod.get("metadata") or {}).get("ownerReferences") or [])]


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
    """How a finished Job ended, with the numbers; ``pods`` may hold pods the Job does not
    own, which are ignored."""
    message = termination_message(owned_pods(job, pods))
    if message is not None:
        try:
            return from_result(parse_result(message))
        except ValueError as error:
            failure = f"the termination message is not a result ({error}): {message[:300]}"
            return RunResult(FAILED, failure)
    cond = next((c for c in (job.get("status") or {}).get("conditions") or []
                 if c.get("type") == "Failed" and c.get("status") == "True"), None)
    if cond is not None:
        # result_sentence says "Job <name> failed: " before it.
        return RunResult(FAILED, f"{cond.get('reason')}: {cond.get('message')}")
    return RunResult(FAILED, "Job completed without a result in its termination message.")


def from_result(result: RetrainResult) -> RunResult:
    metrics = result_metrics(result)
    message = judgement(result, metrics)
    if result.verdict == ACCEPTED and result.candidate is not None:
        c = result.candidate
        html = None if c.html_report_uri is None else store_uri(c.html_report_uri)
        candidate = Candidate(c.version, store_uri(c.uri), c.digest, store_uri(c.report_uri),
                              html)
        return RunResult(ACCEPTED, message, candidate, metrics)
    verdict = REFUSED if result.verdict in (REFUSED, ACCEPTED) else FAILED
    return RunResult(verdict, message, None, metrics)


def result_metrics(result: RetrainResult) -> ResultMetrics | None:
    """The accuracies the gate compared and its limits; None when the Job measured none."""
    measured = result.metrics or {}
    recent, holdout = _comparison(measured.get("recent")), _comparison(measured.get("holdout"))
    if recent is None and holdout is None:
        return None
    gate = (result.model_extra or {}).get("gate") or {}
    return ResultMetrics(recent, holdout, _fraction(gate.get("minImprovement")),
                         _fraction(gate.get("maxHoldoutLoss")))


def judgement(result: RetrainResult, metrics: ResultMetrics | None) -> str:
    """The gate's judgement in one sentence of at most ``MAX_SENTENCE`` characters, as the
    candidate's report says it: "83.3% → 88.5% on 3,900 recent labelled items; 88.9% →
    87.3% on the original holdout, within the 2 points allowed." Reasons the accuracies do
    not say (fairness, a failure) follow with their own words."""
    codes = {reason.code for reason in result.reasons}
    clauses = error_clauses(result, codes) if metrics is None else accuracy_clauses(metrics,
                                                                                     codes)
    clauses += [f"{r.code}: {r.message}" if r.message else r.code
                for r in result.reasons if r.code not in ACCURACY_CODES]
    return sentence("; ".join(clauses) or f"{result.verdict} without a reason given")


def error_clauses(result: RetrainResult, codes: set[str]) -> list[str]:
    """A regressor's: its MAE (in its units) before and after, as the Job measured it:
    "MAE 5.7 → 2.01 on 300 recent labelled items (-64.8%)"."""
    measured = result.metrics or {}
    gate = (result.model_extra or {}).get("gate") or {}
    clauses: list[str] = []
    for key, where in (("recent", "recent labelled items"), ("holdout", "the original holdout")):
        part: Any = measured.get(key)
        try:
            now, new = float(part["current"]["mae"]), float(part["candidate"]["mae"])
            rows = int(part["rows"])
        except (KeyError, TypeError, ValueError):
            continue
        change = 0.0 if now == 0 else (new - now) / now
        on = f"{rows:,} {where}" if key == "recent" else where
        clause = f"MAE {now:.4g} → {new:.4g} on {on} ({change:+.1%})"
        if key == "recent" and Reason.NOT_ENOUGH_IMPROVEMENT in codes:
            clause += f", below the {_share(gate.get('minImprovement'))} reduction required"
        if key == "holdout" and Reason.HOLDOUT_REGRESSION in codes:
            clause += f", more than the {_share(gate.get('maxHoldoutLoss'))} allowed"
        clauses.append(clause)
    return clauses


def _share(value: Any) -> str:
    fraction = _fraction(value)
    return "set" if fraction is None else f"{fraction:.0%}"


def accuracy_clauses(metrics: ResultMetrics, codes: set[str]) -> list[str]:
    clauses: list[str] = []
    judged = metrics.recent or metrics.holdout  # the gain is judged on recent feedback
    for comparison, where in ((metrics.recent, "recent labelled items"),
                              (metrics.holdout, "the original holdout")):
        if comparison is None:
            continue
        clause = f"{_pct(comparison.current_accuracy)} → {_pct(comparison.candidate_accuracy)}"
        clause += (f" on {comparison.rows:,} {where}" if comparison is metrics.recent
                   else f" on {where}")
        if comparison is judged and Reason.NOT_ENOUGH_IMPROVEMENT in codes:
            clause += f", below the {_points(metrics.min_improvement)} gain required"
        if comparison is metrics.holdout:
            clause += _holdout_limit(comparison, metrics.max_holdout_loss, codes)
        clauses.append(clause)
    return clauses


def _holdout_limit(holdout: AccuracyComparison, allowed: float | None, codes: set[str]) -> str:
    if Reason.HOLDOUT_REGRESSION in codes:
        return f", more than the {_points(allowed)} allowed"
    if allowed is not None and holdout.candidate_accuracy < holdout.current_accuracy:
        return f", within the {_points(allowed)} allowed"
    return ""


def sentence(text: str) -> str:
    """``text`` as one sentence ending in a period, shorter than ``MAX_SENTENCE``."""
    return one_sentence(" ".join(text.split()).rstrip(".") + ".")


def _comparison(measured: Any) -> AccuracyComparison | None:
    try:
        return AccuracyComparison(int(measured["rows"]),
                                  float(measured["current"]["accuracy"]),
                                  float(measured["candidate"]["accuracy"]))
    except (KeyError, TypeError, ValueError):
        return None


def _fraction(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value,
                                                                              bool) else None


def _pct(value: float) -> str:
    return f"{value:.1%}"


def _points(fraction: float | None) -> str:
    if fraction is None:
        return "set"
    points = round(100 * fraction, 2)
    return f"{points:g} point" + ("" if points == 1 else "s")
