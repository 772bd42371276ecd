"""The shipped rule files are the generator's current output, with the CRD's thresholds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from vigia_operator.analysis import rules
from vigia_operator.analysis.queries import Signal, render

ROOT = Path(__file__).resolve().parents[4]
MANIFESTS = ROOT / "manifests" / "prometheus"
CRD = ROOT / "manifests" / "crd" / "modeldeployments.vigia.dev.yaml"


def test_committed_rule_files_are_current() -> None:
    groups = rules.rule_groups()
    assert (MANIFESTS / rules.RULE_FILE).read_text() == rules.rule_file(groups), (
        "regenerate: python3 -m vigia_operator.analysis.rules manifests/prometheus"
    )
    assert (MANIFESTS / rules.PROMETHEUS_RULE_FILE).read_text() == rules.prometheus_rule(groups)


def test_prometheus_rule_holds_the_same_groups_as_the_rule_file() -> None:
    plain = yaml.safe_load((MANIFESTS / rules.RULE_FILE).read_text())
    crd = yaml.safe_load((MANIFESTS / rules.PROMETHEUS_RULE_FILE).read_text())
    assert crd["kind"] == "PrometheusRule" and crd["spec"]["groups"] == plain["groups"]


def test_every_signal_is_recorded_with_the_operators_expression() -> None:
    recorded = {r["record"]: r["expr"] for r in rules.recording_rules()}
    for signal in Signal:
        assert recorded[rules.record_name(signal)] == render(signal, rules.RULES_WINDOW)


def _monitoring_defaults() -> dict[str, Any]:
    crd = yaml.safe_load(CRD.read_text())
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    props = spec["properties"]["monitoring"]["properties"]

    def default(section: str, key: str) -> Any:
        return props[section]["properties"][key]["default"]

    return {
        "drift_psi": default("drift", "threshold"),
        "drift_min_samples": default("drift", "minSamples"),
        "accuracy_min": default("accuracy", "min"),
        "accuracy_min_feedback": default("accuracy", "minFeedback"),
        "confidence_min": default("confidence", "min"),
    }


def test_alert_thresholds_are_the_crd_defaults() -> None:
    assert rules.AlertThresholds() == rules.AlertThresholds(**_monitoring_defaults())
