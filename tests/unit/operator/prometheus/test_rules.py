"""The shipped rule files are the generator's current output, with the CRD's thresholds."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from vigia_operator.prometheus import rules
from vigia_operator.prometheus.queries import (
    RECORDED_PARTS,
    UNRECORDED_SIGNALS,
    Signal,
    inline_ref,
    record_name,
    render,
)

ROOT = Path(__file__).resolve().parents[4]
MANIFESTS = ROOT / "manifests" / "prometheus"
CRD = ROOT / "manifests" / "crd" / "modeldeployments.vigia.dev.yaml"


def test_committed_rule_files_are_current() -> None:
    groups = rules.rule_groups()
    assert (MANIFESTS / rules.RULE_FILE).read_text() == rules.rule_file(groups), (
        "regenerate: python3 -m vigia_operator.prometheus.rules manifests/prometheus"
    )
    assert (MANIFESTS / rules.PROMETHEUS_RULE_FILE).read_text() == rules.prometheus_rule(groups)
    assert (ROOT / "manifests" / "addons" / rules.RULE_FILE).read_text() == rules.rule_file(
        groups)


def test_prometheus_rule_holds_the_same_groups_as_the_rule_file() -> None:
    plain = yaml.safe_load((MANIFESTS / rules.RULE_FILE).read_text())
    crd = yaml.safe_load((MANIFESTS / rules.PROMETHEUS_RULE_FILE).read_text())
    assert crd["kind"] == "PrometheusRule" and crd["spec"]["groups"] == plain["groups"]


def test_recorded_signals_expand_to_the_operators_inline_queries() -> None:
    """Each record, with the parts it reads replaced by their expressions, is the query the
    operator runs for a window without rules: one computation, two ways of running it."""
    window = rules.RULES_WINDOW
    recorded = {r["record"]: r["expr"] for r in rules.recording_rules()}
    inline = inline_ref(window)
    for signal in Signal:
        if signal in UNRECORDED_SIGNALS:  # plain selectors, queried as they are
            assert record_name(signal, window) not in recorded
            continue
        expr = recorded[record_name(signal, window)]
        for part in RECORDED_PARTS:  # no recorded name contains another
            expr = expr.replace(record_name(part, window), inline(part))
        assert expr == render(signal, window), signal


def test_parts_are_recorded_before_the_signals_that_read_them() -> None:
    order = [r["record"] for r in rules.recording_rules()]
    for rule in rules.recording_rules():
        for part in RECORDED_PARTS:
            if record_name(part, rules.RULES_WINDOW) in rule["expr"]:
                assert order.index(record_name(part, rules.RULES_WINDOW)) < order.index(
                    rule["record"])


def _described_default(node: dict[str, Any]) -> float:
    found = re.search(r"\(default ([0-9.]+)\)", node["description"])
    assert found is not None, node["description"]
    return float(found[1])


def _monitoring_defaults() -> dict[str, Any]:
    crd = yaml.safe_load(CRD.read_text())
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    props = spec["properties"]["monitoring"]["properties"]

    def default(section: str, key: str) -> Any:
        return props[section]["properties"][key]["default"]

    return {
        "drift_psi": default("drift", "threshold"),
        "drift_min_samples": default("drift", "minSamples"),
        # No schema default (a regressor must not have one): the operator's, in the text.
        "accuracy_min": _described_default(props["accuracy"]["properties"]["min"]),
        "accuracy_min_feedback": default("accuracy", "minFeedback"),
        "confidence_min": default("confidence", "min"),
        "beyond_tolerance_max": props["error"]["properties"]["maxBeyondTolerance"]["default"],
        "error_min_feedback": props["error"]["properties"]["minFeedback"]["default"],
    }


def test_alert_thresholds_are_the_crd_defaults() -> None:
    assert rules.AlertThresholds() == rules.AlertThresholds(**_monitoring_defaults())
