from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from vigia.bundle import ModelBundle
from vigia.report.analysis import Terms
from vigia.report.candidate import CandidateEvidence, build_candidate_report
from vigia.sample import production_line, train_sample_model


@pytest.fixture(scope="module")
def candidate() -> ModelBundle:
    return train_sample_model(rows=600, seed=1, version="r2")


def evidence(candidate: ModelBundle, **changes: Any) -> CandidateEvidence:
    X, y = production_line(200, seed=5)
    proba = candidate.predict_proba(X)
    base: dict[str, Any] = {
        "candidate": candidate,
        "current_version": "1",
        "verdict": "Accepted",
        "reasons": [],
        "rows": X,
        "truth": list(y.astype(str)),
        "parts": ["holdout"] * 150 + ["recent feedback"] * 50,
        "candidate_proba": proba,
        "current_predicted": ["good"] * 200,
        "metrics": {"holdout": {"rows": 150, "current": {"accuracy": 0.7, "f1Macro": 0.5},
                                "candidate": {"accuracy": 0.8, "f1Macro": 0.6},
                                "improvement": 0.1}},
        "gate": {"minImprovement": 0.0, "maxParityDifference": 0.1},
        "importance": {"dough_humidity": {"mean": 0.2, "std": 0.01},
                       "shift": {"mean": 0.0, "std": 0.0}},
        "drop": {"features": ["shift"], "accuracy": 0.8, "accuracyWithout": 0.79, "loss": 0.01},
        "fairness": {"shift": {
            "evaluable": True, "demographicParityDifference": 0.04,
            "equalizedOddsDifference": 0.06, "class": "good",
            "groups": {"night": {"selectionRate": 0.7, "tpr": 0.9, "fpr": 0.3, "rows": 60},
                       "day": {"selectionRate": 0.74, "tpr": 0.95, "fpr": None, "rows": 140}},
            "current": {"demographicParityDifference": 0.01, "equalizedOddsDifference": None},
        }},
    }
    return CandidateEvidence(**{**base, **changes})


def test_every_section_is_drawn_from_the_job_figures(candidate: ModelBundle) -> None:
    report = build_candidate_report(evidence(candidate, terms=Terms("sponge cakes", "defective")))
    assert report.sections == (
        "verdict", "comparison", "confusion", "mistakes", "importance", "fairness")
    assert report.empty == ()
    assert report.rows == 200
    html = report.html
    assert "<title>Candidate sobaos r2: accepted</title>" in html
    assert "Of 200 sponge cakes whose real outcome came back, " in html
    # the current model, which always said good, let every defective one pass
    defective = int(np.sum(np.asarray(evidence(candidate).truth) == "defective"))
    assert f"{defective:,} defective ones passed as good and 0 good ones" in html
    assert "70.0% → 80.0%" in html and "+10.0 points" in html
    assert "Could be dropped together: shift" in html
    assert html.count('class="figure') == 5  # 2 confusions, importance, one fairness figure
    assert "<script" not in html


def test_refusal_reasons_and_missing_parts_are_said(candidate: ModelBundle) -> None:
    refused = evidence(
        candidate, verdict="Refused", importance={}, drop=None, fairness={},
        reasons=[{"code": "Unfair", "message": "shift: demographic parity difference 0.75"}],
        onnx={"error": {"code": "UnsupportedModel", "message": "model: X has no converter"}},
    )
    report = build_candidate_report(refused)
    assert set(report.empty) == {"importance", "fairness"}
    assert "<td>Unfair</td><td>shift: demographic parity difference 0.75</td>" in report.html
    assert "ONNX export failed (UnsupportedModel): model: X has no converter" in report.html
    assert ": refused</title>" in report.html


def test_a_group_too_small_to_measure_is_named(candidate: ModelBundle) -> None:
    fairness = {"line": {"evaluable": False, "skippedGroups": {"b": 3}, "groups": {}}}
    html = build_candidate_report(evidence(candidate, fairness=fairness)).html
    assert "Not measurable" in html and "b (3)" in html
