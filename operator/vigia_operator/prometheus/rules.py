"""The Prometheus recording and alerting rules shipped in manifests/prometheus.

Generated from the operator's own queries (queries.py) so the two cannot disagree:
``python3 -m vigia_operator.prometheus.rules manifests/prometheus`` rewrites the plain rule
file and the PrometheusRule, and the add-on copy of the plain file (manifests/addons);
a unit test checks the committed files are current.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from vigia_operator.prometheus.queries import (
    KEY,
    RECORDED_PARTS,
    RULE_WINDOWS,
    UNRECORDED_SIGNALS,
    Signal,
    record_name,
    render_rule,
)

GROUP = "vigia-monitoring"
(RULES_WINDOW,) = RULE_WINDOWS
EVALUATION_INTERVAL = "1m"
RULE_FILE = "vigia-rules.yaml"
PROMETHEUS_RULE_FILE = "prometheusrule.yaml"
PROMETHEUS_RULE_NAME = "vigia-monitoring"
ALERT_FOR = "10m"


@dataclass(frozen=True)
class AlertThresholds:
    """Cluster-wide alert thresholds: the CRD's defaults (each ModelDeployment's own
    thresholds are applied by the operator, which reports them as conditions)."""

    drift_psi: float = 0.2
    drift_min_samples: int = 500
    accuracy_min: float = 0.85
    accuracy_min_feedback: int = 100
    confidence_min: float = 0.6
    # A regressor's (spec.monitoring.error): share off by more than its servers' tolerance.
    beyond_tolerance_max: float = 0.1
    error_min_feedback: int = 100


def recording_rules(window: str = RULES_WINDOW) -> list[dict[str, str]]:
    """The increase() parts first (each computed once), then the signals built on them;
    rules of a group run in order, each seeing the ones before at the same timestamp."""
    names = [*RECORDED_PARTS, *(s.value for s in Signal if s not in UNRECORDED_SIGNALS)]
    return [{"record": record_name(n, window), "expr": render_rule(n, window)} for n in names]


def alerting_rules(t: AlertThresholds, window: str = RULES_WINDOW) -> list[dict[str, Any]]:
    def r(signal: Signal) -> str:
        return record_name(signal.value, window)

    summary = "{{ $labels.namespace }}/{{ $labels.model }} ({{ $labels.track }})"
    return [
        {
            "alert": "VigiaFeatureDrift",
            "expr": f"{r(Signal.FEATURE_PSI)} > {t.drift_psi}"
            f" and on ({KEY}, feature) {r(Signal.FEATURE_ROWS)} >= {t.drift_min_samples}",
            "for": ALERT_FOR,
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": f"{summary}: feature {{{{ $labels.feature }}}} drifted",
                "description": f"PSI {{{{ $value | printf \"%.3f\" }}}} over {window}"
                f" (threshold {t.drift_psi}).",
            },
        },
        {
            "alert": "VigiaAccuracyLow",
            "expr": f"{r(Signal.ACCURACY)} < {t.accuracy_min}"
            f" and on ({KEY}) {r(Signal.FEEDBACK)} >= {t.accuracy_min_feedback}"
            f" unless on ({KEY}) {r(Signal.MAE)}",  # a regressor: VigiaErrorHigh
            "for": ALERT_FOR,
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": f"{summary}: accuracy below {t.accuracy_min}",
                "description": f"Accuracy {{{{ $value | printf \"%.3f\" }}}} from feedback"
                f" over {window}.",
            },
        },
        {
            "alert": "VigiaErrorHigh",
            "expr": f"{r(Signal.BEYOND_TOLERANCE)} > {t.beyond_tolerance_max}"
            f" and on ({KEY}) {r(Signal.FEEDBACK_VALUES)} >= {t.error_min_feedback}",
            "for": ALERT_FOR,
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": f"{summary}: more than {t.beyond_tolerance_max:.0%} of predictions"
                " off by more than the tolerance",
                "description": f"{{{{ $value | humanizePercentage }}}} of the feedback values"
                f" over {window} are off by more than the servers' tolerance.",
            },
        },
        {
            "alert": "VigiaConfidenceLow",
            "expr": f"{r(Signal.CONFIDENCE_MEAN)} < {t.confidence_min}"
            f" and on ({KEY}) {r(Signal.PREDICTIONS)} >= {t.drift_min_samples}",
            "for": ALERT_FOR,
            "labels": {"severity": "info"},
            "annotations": {
                "summary": f"{summary}: mean confidence below {t.confidence_min}",
                "description": f"Mean confidence {{{{ $value | printf \"%.3f\" }}}}"
                f" over {window}.",
            },
        },
        {
            "alert": "VigiaPredictionShift",
            "expr": f"{r(Signal.PREDICTION_SHIFT)} > {t.drift_psi}"
            f" and on ({KEY}) {r(Signal.PREDICTIONS)} >= {t.drift_min_samples}",
            "for": ALERT_FOR,
            "labels": {"severity": "info"},
            "annotations": {
                "summary": f"{summary}: predicted classes shifted from the training priors",
                "description": f"PSI {{{{ $value | printf \"%.3f\" }}}} over {window}.",
            },
        },
    ]


def rule_groups(
    thresholds: AlertThresholds = AlertThresholds(), window: str = RULES_WINDOW
) -> list[dict[str, Any]]:
    return [
        {
            "name": GROUP,
            "interval": EVALUATION_INTERVAL,
            "rules": [*recording_rules(window), *alerting_rules(thresholds, window)],
        }
    ]


def rule_file(groups: list[dict[str, Any]]) -> str:
    return _dump({"groups": groups})


def prometheus_rule(groups: list[dict[str, Any]]) -> str:
    return _dump(
        {
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "PrometheusRule",
            "metadata": {
                "name": PROMETHEUS_RULE_NAME,
                "labels": {"app.kubernetes.io/name": "vigia", "app.kubernetes.io/part-of": "vigia"},
            },
            "spec": {"groups": groups},
        }
    )


def _dump(document: dict[str, Any]) -> str:
    header = "# Generated by `python3 -m vigia_operator.prometheus.rules`; do not edit.\n"
    return header + yaml.safe_dump(document, sort_keys=False, width=1 << 16)


def write(directory: Path) -> list[Path]:
    groups = rule_groups()
    written = []
    files = {RULE_FILE: rule_file(groups), PROMETHEUS_RULE_FILE: prometheus_rule(groups)}
    for name, text in files.items():
        path = directory / name
        path.write_text(text)
        written.append(path)
    return written


def write_addon(directory: Path) -> Path:
    """The plain rule file for the add-on Prometheus (manifests/addons loads it from a
    ConfigMap; kustomize reads files only below its own directory, hence a copy)."""
    path = directory / RULE_FILE
    path.write_text(rule_file(rule_groups()))
    return path


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "manifests/prometheus")
    target.mkdir(parents=True, exist_ok=True)
    for p in write(target):
        print(p)
    print(write_addon(target.parent / "addons"))
