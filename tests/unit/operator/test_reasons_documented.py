"""docs/operator.md's tables of what `kubectl describe md` says list every condition type
and every condition or Event reason of the catalogue (core/reasons.py), each example
message one sentence under 200 characters."""

from __future__ import annotations

import re
from pathlib import Path

from vigia_operator.core import reasons
from vigia_operator.core.text import MAX_MESSAGE

DOCS = Path(__file__).resolve().parents[3] / "docs" / "operator.md"
# Catalogue entries that are not condition types or reasons of a condition or an Event.
NOT_REASONS = {"PHASE_", "TRIGGER_", "SKIP_", "NORMAL", "WARNING", "HEALTHY_STATUS",
               "ROUTINE_REASONS"}
CONDITION_TYPES = {reasons.READY, reasons.PROGRESSING, reasons.DEGRADED, reasons.DRIFTED,
                   reasons.ACCURACY_LOW, reasons.CONFIDENCE_LOW, reasons.KPI_VIOLATED,
                   reasons.RETRAINING, reasons.PREDICTION_LOG_FAILING, reasons.COST_HIGH,
                   reasons.CONFIDENCE_SHIFT, reasons.ESTIMATED_ACCURACY_LOW}


def _section() -> str:
    text = DOCS.read_text()
    start = text.index("## What `kubectl describe md` says")
    return text[start:text.index("\n## ", start + 1)]


def _rows(table: str) -> list[list[str]]:
    section = _section()
    body = section[section.index(table):]
    lines = [line for line in body.splitlines()[1:] if line.startswith("| ")]
    rows: list[list[str]] = []
    for line in lines:
        if line.startswith("| Reason |") or line.startswith("| Condition |"):
            if rows:
                break
            continue
        rows.append([cell.strip() for cell in line.strip("|").split(" | ")])
    return rows


def _catalogue() -> set[str]:
    names = [n for n in vars(reasons) if n.isupper()
             and not any(n.startswith(prefix) for prefix in NOT_REASONS)]
    return {getattr(reasons, n) for n in names if isinstance(getattr(reasons, n), str)}


def test_every_reason_and_condition_type_is_in_a_table() -> None:
    conditions, events = _rows("### Conditions"), _rows("### Events")
    cells = [row[1] for row in conditions] + [row[0] for row in events]
    listed = {r for cell in cells for r in re.findall(r"`([A-Za-z]+)`", cell)}
    types = {t.strip() for row in conditions for t in row[0].split(",")}
    assert types >= CONDITION_TYPES, CONDITION_TYPES - types
    missing = _catalogue() - CONDITION_TYPES - listed
    assert missing == set(), f"not in docs/operator.md's tables: {sorted(missing)}"


def test_every_event_row_says_normal_or_warning_and_examples_are_sentences() -> None:
    for row in _rows("### Events"):
        assert "Normal" in row[1] or "Warning" in row[1], row
        assert len(row[-1]) < MAX_MESSAGE and row[-1].rstrip(".…").count(". ") == 0, row
    for row in _rows("### Conditions"):
        example = row[-1]
        if example.startswith(("the ", "(")):  # a description, not a message
            continue
        assert len(example) < MAX_MESSAGE and example.rstrip(".…").count(". ") == 0, row
