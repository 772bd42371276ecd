"""The candidate's HTML report (``vigia.report.candidate``) from what the job measured."""

from __future__ import annotations

from typing import Any

from vigia.bundle import ModelBundle
from vigia.report.candidate import CandidateEvidence, build_candidate_report
from vigia_retrain import evaluation, output
from vigia_retrain.training import Splits

HOLDOUT_PART = "holdout"
RECENT_PART = "recent feedback"


def write_html_report(
    candidate: ModelBundle, current: Any, splits: Splits, report: dict[str, Any], uri: str
) -> None:
    """Draw the report from ``report`` (the job's JSON report so far) and write it."""
    rows = splits.X_eval
    evidence = CandidateEvidence(
        candidate=candidate,
        current_version=str(report.get("currentVersion", "?")),
        verdict=str(report["verdict"]),
        reasons=report.get("reasons", []),
        rows=rows,
        truth=[str(v) for v in splits.y_eval],
        parts=[HOLDOUT_PART] * len(splits.X_holdout) + [RECENT_PART] * len(splits.X_recent),
        candidate_proba=candidate.predict_proba(rows),
        current_predicted=list(evaluation.predict_labels(current, rows)),
        metrics={k: v for k, v in report.get("metrics", {}).items() if v},
        gate=report.get("gate", {}),
        importance=report.get("importance", {}),
        drop=report.get("drop"),
        fairness=report.get("fairness", {}),
        onnx=report.get("onnx"),
    )
    output.write_text(build_candidate_report(evidence).html, uri, "HTML report")
