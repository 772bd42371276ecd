"""status.canary and status.history as JSON, and back: a restarted operator resumes from it.

Reading is lenient about what it cannot use (a status written by an older operator, or
edited by hand): an unreadable canary section is None, never an exception.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final, cast

from vigia_operator.core.clock import iso, parse_time
from vigia_operator.decide.rollout.model import (
    Analysis,
    CanaryState,
    Ending,
    GateOutcome,
    GateResult,
    HistoryEntry,
    Phase,
    Verdict,
    Version,
)
from vigia_operator.decide.rollout.sequential import Labels

HISTORY_LIMIT: Final = 20  # the CRD's maxItems for status.history

Obj = dict[str, Any]


def version_to_status(version: Version) -> Obj:
    out: Obj = {"version": version.version, "uri": version.uri}
    if version.digest is not None:
        out["digest"] = version.digest
    return out


def version_from_status(section: Mapping[str, Any] | None) -> Version | None:
    if not section or not isinstance(section.get("uri"), str):
        return None
    return Version(str(section.get("version", "")), section["uri"], section.get("digest"))


def analysis_to_status(analysis: Analysis) -> Obj:
    return {
        "at": iso(analysis.at),
        "verdict": analysis.verdict,
        "noData": analysis.no_data,
        "samples": analysis.canary_samples,
        "stableSamples": analysis.stable_samples,
        "feedback": analysis.canary_feedback,
        "stableFeedback": analysis.stable_feedback,
        "labels": _labels_to_status(analysis.canary_labels, analysis.stable_labels),
        "gates": [_gate_to_status(g) for g in analysis.gates],
        "message": analysis.message,
    }


def _labels_to_status(canary: Labels, stable: Labels) -> Obj:
    return {"canary": round(canary.total, 3), "canaryCorrect": round(canary.correct, 3),
            "stable": round(stable.total, 3), "stableCorrect": round(stable.correct, 3)}


def _labels_from_status(section: Any) -> tuple[Labels, Labels]:
    if not isinstance(section, Mapping):
        return Labels(), Labels()
    return (Labels(float(section.get("canaryCorrect", 0.0)), float(section.get("canary", 0.0))),
            Labels(float(section.get("stableCorrect", 0.0)), float(section.get("stable", 0.0))))


def _gate_to_status(gate: GateResult) -> Obj:
    out: Obj = {"name": gate.name, "threshold": gate.threshold, "verdict": gate.outcome,
                "samples": gate.samples}
    if gate.value is not None:
        out["value"] = round(gate.value, 6)
    if gate.low is not None and gate.high is not None:
        out["low"], out["high"] = round(gate.low, 6), round(gate.high, 6)
    if gate.stable_samples is not None:
        out["stableSamples"] = gate.stable_samples
    if gate.unit is not None:
        out["unit"] = gate.unit
    return out


def analysis_from_status(section: Mapping[str, Any] | None) -> Analysis | None:
    at = parse_time((section or {}).get("at"))
    if section is None or at is None:
        return None
    gates = tuple(
        GateResult(
            name=str(g.get("name")), value=g.get("value"),
            threshold=float(g.get("threshold", 0.0)),
            outcome=cast(GateOutcome, g.get("verdict", "NoData")),
            samples=int(g.get("samples", 0)),
            low=g.get("low"), high=g.get("high"), stable_samples=g.get("stableSamples"),
            unit=g.get("unit"),
        )
        for g in section.get("gates") or []
    )
    canary_labels, stable_labels = _labels_from_status(section.get("labels"))
    return Analysis(
        at=at, verdict=cast(Verdict, section.get("verdict", "Inconclusive")),
        canary_samples=int(section.get("samples", 0)),
        stable_samples=int(section.get("stableSamples", 0)),
        gates=gates, message=str(section.get("message", "")),
        no_data=bool(section.get("noData", False)),
        canary_feedback=int(section.get("feedback", 0)),
        stable_feedback=int(section.get("stableFeedback", 0)),
        canary_labels=canary_labels, stable_labels=stable_labels,
    )


def canary_to_status(canary: CanaryState) -> Obj:
    out: Obj = {
        **version_to_status(canary.version),
        "phase": canary.phase,
        "step": canary.step,
        "weight": canary.weight,
        "achievedWeight": canary.achieved_weight,
        "canaryReplicas": canary.canary_replicas,
        "startedAt": iso(canary.started_at),
        "failures": canary.failures,
        "paused": canary.paused,
        "message": canary.message,
    }
    if canary.step_started_at is not None:
        out["stepStartedAt"] = iso(canary.step_started_at)
    if canary.last_analysis is not None:
        out["lastAnalysis"] = analysis_to_status(canary.last_analysis)
    if canary.outcome is not None:
        out["outcome"] = canary.outcome
    return out


def canary_from_status(section: Mapping[str, Any] | None) -> CanaryState | None:
    version = version_from_status(section)
    started = parse_time((section or {}).get("startedAt"))
    if section is None or version is None or started is None:
        return None
    phase = section.get("phase")
    if phase not in ("Progressing", "Promoting", "RollingBack"):
        return None
    return CanaryState(
        version=version, phase=cast(Phase, phase), step=int(section.get("step", 0)),
        weight=int(section.get("weight", 0)),
        achieved_weight=int(section.get("achievedWeight", 0)),
        canary_replicas=int(section.get("canaryReplicas", 0)), started_at=started,
        step_started_at=parse_time(section.get("stepStartedAt")),
        failures=int(section.get("failures", 0)), paused=bool(section.get("paused", False)),
        last_analysis=analysis_from_status(section.get("lastAnalysis")),
        message=str(section.get("message", "")),
        outcome=cast(Ending | None, section.get("outcome")),
    )


def history_entry_to_status(entry: HistoryEntry) -> Obj:
    return {**version_to_status(entry.version), "outcome": entry.outcome,
            "at": iso(entry.at), "message": entry.message}


def history_from_status(items: Sequence[Mapping[str, Any]] | None) -> list[HistoryEntry]:
    entries = []
    for item in items or []:
        version, at = version_from_status(item), parse_time(item.get("at"))
        outcome = item.get("outcome")
        if version is not None and at is not None and isinstance(outcome, str):
            entries.append(HistoryEntry(version, cast(Ending, outcome), at,
                                        str(item.get("message", ""))))
    return entries


def push_history(history: Sequence[Mapping[str, Any]] | None,
                 ended: Sequence[HistoryEntry]) -> list[Obj]:
    """status.history with the ended versions first (newest first), at most HISTORY_LIMIT."""
    newest = [history_entry_to_status(e) for e in reversed(ended)]
    return [*newest, *(dict(h) for h in history or [])][:HISTORY_LIMIT]
