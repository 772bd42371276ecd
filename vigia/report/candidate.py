"""The report of a retraining candidate: one self-contained HTML file beside its bundle.

The retraining job (services/retrain) judges a candidate on rows it never trained on (the
original holdout and the newest labelled feedback). This page shows that judgement in
business terms: the verdict and its reasons, the candidate against the current model, the
candidate's confusion in counts of real items, its surest mistakes, what drives it
(permutation importance) and how it treats each group (fairlearn's gaps). The figures are
the job's own (the result's ``metrics``, ``importance``, ``drop`` and ``fairness``, schema
vigia.dev/retrain-result/v1); this module only draws them. Same page machinery as
``vigia report``: inline SVG, no script, nothing fetched.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from vigia.bundle import ModelBundle
from vigia.report import analysis, figures
from vigia.report.analysis import Terms
from vigia.report.build import Report
from vigia.report.page import Page, Section, esc, render, table

MISTAKES_SHOWN = 10


@dataclass(frozen=True)
class CandidateEvidence:
    """What the job measured, and the evaluation rows it measured it on."""

    candidate: ModelBundle
    current_version: str
    verdict: str
    reasons: Sequence[Mapping[str, Any]]  # {"code", "message"}
    rows: pd.DataFrame  # evaluation rows (features, schema order)
    truth: Sequence[str]  # their real outcome
    parts: Sequence[str]  # where each row comes from: "holdout" or "recent feedback"
    candidate_proba: np.ndarray  # [rows, classes], the candidate's classes order
    current_predicted: Sequence[str]
    metrics: Mapping[str, Any]  # result["metrics"]: holdout / recent comparisons
    gate: Mapping[str, Any]
    importance: Mapping[str, Mapping[str, float]]  # feature -> {"mean", "std"}
    drop: Mapping[str, Any] | None
    fairness: Mapping[str, Mapping[str, Any]]  # feature -> result["fairness"][feature]
    onnx: Mapping[str, Any] | None = None  # result["onnx"], with spec.export.onnx
    terms: Terms = field(default_factory=Terms)


def build_candidate_report(evidence: CandidateEvidence) -> Report:
    started = time.perf_counter()
    meta = evidence.candidate.metadata
    frame = _frame(evidence)
    sections = [
        _verdict(evidence),
        _comparison(evidence, frame),
        _confusion(evidence, frame),
        _mistakes(evidence, frame),
        _importance(evidence),
        _fairness(evidence),
    ]
    page = Page(
        title=f"Candidate {meta.name} {meta.version}: {evidence.verdict.lower()}",
        meta=f"retrained from version {evidence.current_version} · judged on {len(frame):,} "
        f"{evidence.terms.items} it never trained on · generated "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        headline=_headline(evidence),
        sections=sections,
    )
    return Report(
        html=render(page),
        rows=len(frame),
        seconds=time.perf_counter() - started,
        sections=tuple(s.key for s in sections),
        empty=tuple(s.key for s in sections if s.empty),
    )


def _frame(evidence: CandidateEvidence) -> pd.DataFrame:
    """The evaluation rows as ``analysis`` expects predictions: one row each, with the
    candidate's class and probabilities, the real outcome, and the features."""
    classes = list(evidence.candidate.metadata.classes)
    proba = np.asarray(evidence.candidate_proba, dtype=np.float64)
    return pd.DataFrame({
        "part": list(evidence.parts),
        "features": evidence.rows.astype(object).where(evidence.rows.notna(), None)
        .to_dict(orient="records"),
        "predicted": [classes[i] for i in proba.argmax(axis=1)],
        "probabilities": [dict(zip(classes, map(float, p), strict=True)) for p in proba],
        "label": [str(t) for t in evidence.truth],
        "current": [str(p) for p in evidence.current_predicted],
    })


def _headline(evidence: CandidateEvidence) -> list[tuple[str, str]]:
    figures_ = [("Verdict", evidence.verdict)]
    for key, name in (("recent", "recent feedback"), ("holdout", "original holdout")):
        compared = evidence.metrics.get(key)
        if compared:
            figures_.append((
                f"Accuracy on {name} ({compared['rows']:,}), current → candidate",
                f"{compared['current']['accuracy']:.1%} → {compared['candidate']['accuracy']:.1%}",
            ))
    return figures_


def _verdict(evidence: CandidateEvidence) -> Section:
    section = Section("verdict", "Verdict")
    if evidence.reasons:
        section.lede = f"{evidence.verdict}: it failed {len(evidence.reasons)} check(s)."
        rows = [[r.get("code", ""), r.get("message", "")] for r in evidence.reasons]
        section.parts.append(table(["check", "why"], rows))
    else:
        section.lede = f"{evidence.verdict}: the candidate passed every check of the gate."
    limits = [[k, f"{v:g}" if isinstance(v, float) else str(v)] for k, v in evidence.gate.items()]
    if limits:
        section.parts.append(table(["gate setting", "value"], limits, {1}))
    if evidence.onnx is not None:
        section.parts.append(f'<p class="note">{esc(_onnx_note(evidence.onnx))}</p>')
    return section


def _onnx_note(onnx: Mapping[str, Any]) -> str:
    parity = onnx.get("parity") or {}
    measured = (
        f"largest probability difference {parity['maxProbabilityDifference']:.2g} on "
        f"{parity['rows']:,} rows (threshold {parity['threshold']:g})" if parity else ""
    )
    if "error" in onnx:
        error = onnx["error"]
        return f"ONNX export failed ({error.get('code')}): {error.get('message', '')} {measured}"
    return f"ONNX form written ({int(onnx['bytes']):,} bytes): {measured}."


def _comparison(evidence: CandidateEvidence, frame: pd.DataFrame) -> Section:
    section = Section("comparison", "The candidate against the current model")
    rows = []
    for key, name in (("holdout", "original holdout"), ("recent", "recent feedback")):
        compared = evidence.metrics.get(key)
        if not compared:
            continue
        now, new = compared["current"], compared["candidate"]
        rows.append([
            name, f"{compared['rows']:,}", f"{now['accuracy']:.1%}", f"{new['accuracy']:.1%}",
            f"{100 * compared['improvement']:+.1f} points", f"{now['f1Macro']:.3f}",
            f"{new['f1Macro']:.3f}",
        ])
    section.lede = (
        "Both models on the same rows, none of which the candidate trained on. The recent "
        "feedback is where the inputs drifted; the original holdout guards against "
        "forgetting what the current model knew."
    )
    section.parts.append(table(
        ["rows", "count", "current accuracy", "candidate accuracy", "change", "current F1",
         "candidate F1"], rows, {1, 2, 3, 4, 5, 6},
    ))
    classes = list(evidence.candidate.metadata.classes)
    current = analysis.confusion(frame.assign(predicted=frame["current"]), classes, evidence.terms)
    if current is not None:
        section.parts.append(f'<p class="note">Current model: {esc(current.sentence)}</p>')
        section.parts.append(
            figures.confusion_figure(current, evidence.terms.items, "confusion-current")
        )
    return section


def _confusion(evidence: CandidateEvidence, frame: pd.DataFrame) -> Section:
    section = Section("confusion", "What the candidate got right and wrong")
    classes = list(evidence.candidate.metadata.classes)
    confusion = analysis.confusion(frame, classes, evidence.terms)
    if confusion is None:
        section.empty = "No evaluation rows: nothing to count."
        return section
    section.lede = confusion.sentence
    section.parts.append(figures.confusion_figure(confusion, evidence.terms.items))
    return section


def _mistakes(evidence: CandidateEvidence, frame: pd.DataFrame) -> Section:
    section = Section("mistakes", "Mistakes the candidate made while most sure")
    wrong = analysis.confident_mistakes(frame, MISTAKES_SHOWN)
    if wrong.empty:
        section.empty = "The candidate got every evaluation row right."
        return section
    section.lede = (
        f"The {len(wrong)} {evidence.terms.items} the candidate was surest about and still "
        "got wrong: they often show a missing feature or a labelling problem."
    )
    rows = [
        [r.part, r.predicted, r.label, f"{r.confidence:.0%}", r.current, _brief(r.features)]
        for r in wrong.itertuples()
    ]
    section.parts.append(
        table(["from", "candidate said", "really", "sure", "current said", "inputs"], rows, {3})
    )
    return section


def _brief(features: object, limit: int = 6) -> str:
    if not isinstance(features, Mapping):
        return ""
    items = list(features.items())[:limit]
    text = ", ".join(f"{k}={_value(v)}" for k, v in items)
    return text + (", …" if len(features) > limit else "")


def _value(value: object) -> str:
    if value is None:
        return "missing"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _importance(evidence: CandidateEvidence) -> Section:
    section = Section("importance", "What drives the candidate")
    if not evidence.importance:
        section.empty = "Importance was not measured."
        return section
    scores = pd.Series({n: float(v["mean"]) for n, v in evidence.importance.items()})
    section.lede = (
        "Permutation importance on the evaluation rows: the accuracy lost when one feature's "
        "values are shuffled."
    )
    section.parts.append(figures.importance_figure(scores, "accuracy lost"))
    drop = evidence.drop
    if drop and drop.get("features"):
        section.parts.append(
            f'<p class="note">Could be dropped together: {esc(", ".join(drop["features"]))}; '
            f"refit without them the candidate's accuracy goes from {float(drop['accuracy']):.1%} "
            f"to {float(drop['accuracyWithout']):.1%}.</p>"
        )
    return section


def _fairness(evidence: CandidateEvidence) -> Section:
    section = Section("fairness", "Fairness by group")
    if not evidence.fairness:
        section.empty = "No sensitive feature was given (spec.retraining.gate.fairness)."
        return section
    limit = evidence.gate.get("maxParityDifference")
    section.lede = (
        "Demographic parity difference: the largest gap between groups in how often a class "
        "is predicted. Equalized odds difference: the largest gap in true- or false-positive "
        "rate." + (f" The gate allows {limit:g} for each." if limit is not None else "")
    )
    parts = [_fairness_part(name, found) for name, found in evidence.fairness.items()]
    section.parts.append('<div class="figures">' + "".join(parts) + "</div>")
    return section


def _fairness_part(feature: str, found: Mapping[str, Any]) -> str:
    if not found.get("evaluable"):
        skipped = ", ".join(f"{g} ({n})" for g, n in (found.get("skippedGroups") or {}).items())
        return (
            f'<div><h3>{esc(feature)}</h3><p class="empty">Not measurable: fewer than two '
            f"groups large enough. Too small: {esc(skipped or 'none')}.</p></div>"
        )
    klass = str(found.get("class"))
    current = found.get("current") or {}
    gaps = table(
        ["", "current", "candidate"],
        [[name, _number(current.get(key)), _number(found.get(key))]
         for name, key in (("parity difference", "demographicParityDifference"),
                           ("equalized odds difference", "equalizedOddsDifference"))],
        {1, 2},
    )
    groups = found.get("groups") or {}
    rows = [
        [g, f"{int(v.get('rows') or 0):,}", _share(v.get("selectionRate")), _share(v.get("tpr")),
         _share(v.get("fpr"))]
        for g, v in groups.items()
    ]
    shares = pd.DataFrame({"group": list(groups),
                           "flagged": [float(v.get("selectionRate") or 0.0)
                                       for v in groups.values()]})
    figure = figures.fairness_figure(shares, feature, klass, f"share predicted {klass}")
    return (
        f"<div><h3>{esc(feature)} (class {esc(klass)})</h3>{gaps}{figure}"
        + table([feature, "rows", f"predicted {klass}", "true-positive rate",
                 "false-positive rate"], rows, {1, 2, 3, 4})
        + "</div>"
    )


def _number(value: object) -> str:
    return "n/a" if value is None else f"{float(value):.3f}"  # type: ignore[arg-type]


def _share(value: object) -> str:
    return "n/a" if value is None else f"{float(value):.1%}"  # type: ignore[arg-type]
