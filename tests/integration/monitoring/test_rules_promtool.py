"""The shipped recording and alerting rules under `promtool test rules`.

Inputs are counters of several ModelDeployments (two namespaces holding a model of the same
name, two replicas, a canary track; part of the stable track's counts come from devices
and browsers, ``source="edge"|"browser"``, as POST /telemetry folds them); every expected
value is computed here by vigia.drift and plain arithmetic, never by PromQL, and compared
within 1e-9 relative.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from vigia_operator.prometheus import rules
from vigia_operator.prometheus.queries import UNRECORDED_SIGNALS, Signal, record_name
from vigia_testbed.prometheus import binary

from vigia import drift, metrics

MINUTES = 70  # samples every minute from 0 to 70m; the 1h window is (10m, 70m]
EVAL = f"{MINUTES}m"
WINDOW_MINUTES = 60
BUCKETS = metrics.CONFIDENCE_BUCKETS

OVEN = {"0": 0.25, "1": 0.25, "2": 0.25, "3": 0.25}
SUPPLIER = {"acme": 0.5, "bolt": 0.3, "corn": 0.2}
PRIORS = {"good": 0.8, "defective": 0.2}


@dataclass
class Track:
    namespace: str
    model: str
    track: str
    # per replica: feature -> bin -> rows per minute
    replicas: dict[str, dict[str, dict[str, float]]]
    classes: dict[str, float]  # predictions per minute, all replicas
    correct: float  # feedback per minute
    incorrect: float
    confidences: dict[float, float]  # confidence value -> predictions per minute
    # A regressor's: per replica, (values, sum of |error|, sum of error^2) per minute; its
    # "classes" are then the training deciles of its predictions and it has no confidence.
    errors: dict[str, tuple[float, float, float]] | None = None
    # per replica: (actual, predicted) -> labelled predictions per minute
    confusion: dict[str, dict[tuple[str, str], float]] = field(default_factory=dict)
    # replica -> source of its bin counts; and the share of predictions, feedback and
    # confidence counted from browsers' reports: the rules must sum over ``source``.
    sources: dict[str, str] = field(default_factory=dict)
    browser_share: float = 0.0
    # Estimated accuracy: the calibration check's error, and the expected-correct counter per
    # minute (None: the bundle failed its check, so the server exports no counter).
    calibration_error: float = 0.03
    expected_correct: float | None = None
    # Segment "supplier": value -> feature -> bin -> rows per minute (first replica).
    segments: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    # Segment "supplier": value -> (correct, incorrect) feedback per minute.
    segment_feedback: dict[str, tuple[float, float]] = field(default_factory=dict)

    @property
    def key(self) -> dict[str, str]:
        """What every recorded series is split by: a version is judged on its own."""
        return {"namespace": self.namespace, "model": self.model, "track": self.track,
                "version": "1"}

    def cells(self) -> dict[tuple[str, str], float]:
        """The confusion matrix over all replicas, per minute."""
        total: dict[tuple[str, str], float] = {}
        for cells in self.confusion.values():
            for cell, rate in cells.items():
                total[cell] = total.get(cell, 0.0) + rate
        return total

    def counts(self, feature: str) -> dict[str, float]:
        total: dict[str, float] = {}
        for bins in self.replicas.values():
            for b, rate in bins[feature].items():
                total[b] = total.get(b, 0.0) + rate
        return total


REFERENCE = {"oven": OVEN, "supplier": SUPPLIER}
# Each supplier's own training reference of the oven bins (the profile's segments).
SEGMENT_REFERENCE = {"acme": {"oven": {"0": 0.3, "1": 0.3, "2": 0.2, "3": 0.2}},
                     "bolt": {"oven": {"0": 0.1, "1": 0.2, "2": 0.3, "3": 0.4}}}
TRACKS = [
    Track("bakery", "sobaos", "stable",
          replicas={
              "a": {"oven": {"0": 6, "1": 5, "2": 6, "3": 5},
                    "supplier": {"acme": 11, "bolt": 6, "corn": 5}},
              "b": {"oven": {"0": 7, "1": 8, "2": 7, "3": 6},
                    "supplier": {"acme": 14, "bolt": 9, "corn": 5}},
          },
          classes={"good": 40, "defective": 10}, correct=9, incorrect=1,
          confidences={0.55: 5, 0.75: 15, 0.97: 30}, expected_correct=42.5,
          segments={"acme": {"oven": {"0": 7, "1": 6, "2": 6, "3": 6}},
                    "bolt": {"oven": {"0": 0, "1": 1, "2": 4, "3": 10}}},
          segment_feedback={"acme": (6, 0), "bolt": (3, 1)},
          # Cells split over both replicas: precision and recall are of their sums.
          confusion={"a": {("good", "good"): 4, ("defective", "defective"): 1,
                           ("good", "defective"): 1},
                     "b": {("good", "good"): 3, ("defective", "defective"): 1,
                           ("defective", "good"): 2, ("good", "defective"): 0.5}},
          sources={"b": metrics.SOURCE_EDGE}, browser_share=0.25),
    Track("bakery", "sobaos", "canary",
          replicas={"c": {"oven": {"0": 1, "1": 2, "2": 7, "3": 10},
                          "supplier": {"acme": 10, "bolt": 6, "corn": 4}}},
          classes={"good": 12, "defective": 8}, correct=1, incorrect=0,
          confidences={0.65: 10, 0.85: 10}, calibration_error=0.09,
          confusion={"c": {("defective", "defective"): 1}}),
    # Same model name in another namespace: must never mix with bakery/sobaos.
    Track("lab", "sobaos", "stable",
          replicas={"d": {"oven": {"0": 0, "1": 3, "2": 17, "3": 40},
                          "supplier": {"acme": 30, "bolt": 20, "corn": 10}}},
          classes={"good": 20, "defective": 40}, correct=2, incorrect=3,
          confidences={0.52: 40, 0.62: 20}, expected_correct=31.25,
          segments={"acme": {"oven": {"0": 9, "1": 9, "2": 6, "3": 6}}},
          segment_feedback={"acme": (0, 0)},
          # No defective one found: its recall is 0, and it has no precision (never predicted).
          confusion={"d": {("good", "good"): 2, ("defective", "good"): 3}}),
    # A regressor on two replicas: its errors are summed across them, never averaged per pod.
    Track("bakery", "weights", "stable",
          replicas={"e": {"oven": {"0": 5, "1": 5, "2": 5, "3": 5},
                          "supplier": {"acme": 10, "bolt": 6, "corn": 4}},
                    "f": {"oven": {"0": 5, "1": 5, "2": 5, "3": 5},
                          "supplier": {"acme": 10, "bolt": 6, "corn": 4}}},
          classes={"0": 20, "1": 10, "2": 6, "3": 4}, correct=7, incorrect=3,
          confidences={}, errors={"e": (8.0, 24.0, 100.0), "f": (2.0, 26.0, 500.0)}),
]
# A regressor's training output deciles (its "class priors"), here four bins.
OUTPUT_PRIORS = {"0": 0.25, "1": 0.25, "2": 0.25, "3": 0.25}


def _selector(name: str, labels: dict[str, str]) -> str:
    return name + "{" + ", ".join(f'{k}="{v}"' for k, v in labels.items()) + "}"


def _counter(name: str, labels: dict[str, str], per_minute: float) -> dict[str, str]:
    return {"series": _selector(name, labels), "values": f"0+{per_minute}x{MINUTES}"}


def _gauge(name: str, labels: dict[str, str], value: float) -> dict[str, str]:
    return {"series": _selector(name, labels), "values": f"{value}x{MINUTES}"}


def input_series(t: Track) -> list[dict[str, str]]:
    out = []
    replicas = list(t.replicas)
    for instance, features in t.replicas.items():
        base = {**t.key, "instance": instance}
        source = {metrics.LABEL_SOURCE: t.sources.get(instance, metrics.SOURCE_SERVER)}
        for feature, bins in features.items():
            for b, rate in bins.items():
                labels = {**base, "feature": feature, "bin": b}
                out.append(_counter(metrics.FEATURE_BIN_SERIES, {**labels, **source}, rate))
                out.append(_gauge(metrics.FEATURE_REFERENCE, labels, REFERENCE[feature][b]))
        for c, prior in (OUTPUT_PRIORS if t.errors else PRIORS).items():
            out.append(_gauge(metrics.CLASS_PRIOR, {**base, "class": c}, prior))
        if t.errors:
            values, absolute, squared = t.errors[instance]
            counted = {**base, metrics.LABEL_SOURCE: metrics.SOURCE_SERVER}
            out.append(_counter(metrics.FEEDBACK_LABELLED_SERIES, counted, values))
            out.append(_counter(metrics.FEEDBACK_ABSOLUTE_ERROR_SERIES, counted, absolute))
            out.append(_counter(metrics.FEEDBACK_SQUARED_ERROR_SERIES, counted, squared))
    for instance, cells in t.confusion.items():
        for (actual, predicted), rate in cells.items():
            labels = {**t.key, "instance": instance, metrics.LABEL_SOURCE: metrics.SOURCE_SERVER,
                      "actual": actual, "predicted": predicted}
            out.append(_counter(metrics.CONFUSION_SERIES, labels, rate))
    # Predictions, feedback and confidence: on the first replica (sums are what count), part
    # of them from browsers.
    for origin, share in ((metrics.SOURCE_SERVER, 1 - t.browser_share),
                          (metrics.SOURCE_BROWSER, t.browser_share)):
        if share:
            counted = {**t.key, "instance": replicas[0], metrics.LABEL_SOURCE: origin}
            out += _outcomes(t, counted, share)
    out += _estimate_and_segments(t, {**t.key, "instance": replicas[0]})
    return out


def _estimate_and_segments(t: Track, base: dict[str, str]) -> list[dict[str, str]]:
    """The server's own counters (no ``source``: devices send neither)."""
    out: list[dict[str, str]] = []
    if not t.confidences:
        return out
    out.append(_gauge(metrics.CALIBRATION_ERROR, base, t.calibration_error))
    for value, (right, wrong) in t.segment_feedback.items():
        labels = {**base, "segment": "supplier", "segment_value": value}
        out.append(_counter(metrics.SEGMENT_FEEDBACK_SERIES, {**labels, "outcome": "correct"},
                            right))
        out.append(_counter(metrics.SEGMENT_FEEDBACK_SERIES, {**labels, "outcome": "incorrect"},
                            wrong))
    for value, features in t.segments.items():
        for feature, bins in features.items():
            for b, rate in bins.items():
                labels = {**base, "segment": "supplier", "segment_value": value,
                          "feature": feature, "bin": b}
                out.append(_counter(metrics.SEGMENT_FEATURE_BIN_SERIES, labels, rate))
                out.append(_gauge(metrics.SEGMENT_REFERENCE, labels,
                                  SEGMENT_REFERENCE[value][feature][b]))
    if t.expected_correct is not None:
        out.append(_counter(metrics.EXPECTED_CORRECT_SERIES, base, t.expected_correct))
    return out


def _outcomes(t: Track, base: dict[str, str], share: float) -> list[dict[str, str]]:
    out = []
    for c, whole in t.classes.items():
        rate = whole * share
        out.append(_counter(metrics.PREDICTIONS_SERIES, {**base, "class": c}, rate))
    correct, incorrect = t.correct * share, t.incorrect * share
    out.append(_counter(metrics.FEEDBACK_SERIES, {**base, "outcome": "correct"}, correct))
    out.append(_counter(metrics.FEEDBACK_SERIES, {**base, "outcome": "incorrect"}, incorrect))
    if not t.confidences:
        return out
    total = sum(t.confidences.values()) * share
    for le in (*BUCKETS, float("inf")):
        below = sum(r for v, r in t.confidences.items() if v <= le) * share
        label = "+Inf" if le == float("inf") else repr(le)
        out.append(_counter(f"{metrics.CONFIDENCE}_bucket", {**base, "le": label}, below))
    weighted = sum(v * r for v, r in t.confidences.items()) * share
    out.append(_counter(f"{metrics.CONFIDENCE}_sum", base, weighted))
    out.append(_counter(f"{metrics.CONFIDENCE}_count", base, total))
    return out


def expected(t: Track) -> dict[Signal, list[tuple[dict[str, str], float]]]:
    """Every recorded value of one track, computed without PromQL."""
    out: dict[Signal, list[tuple[dict[str, str], float]]] = {s: [] for s in Signal}
    for feature, reference in REFERENCE.items():
        counts = t.counts(feature)
        labels = {**t.key, "feature": feature}
        out[Signal.FEATURE_ROWS].append((labels, WINDOW_MINUTES * sum(counts.values())))
        out[Signal.FEATURE_PSI].append((labels, drift.psi(reference, counts)))
        out[Signal.FEATURE_JENSEN_SHANNON].append((labels, drift.jensen_shannon(reference, counts)))
    predictions = sum(t.classes.values())
    out[Signal.PREDICTIONS].append((t.key, WINDOW_MINUTES * predictions))
    priors = OUTPUT_PRIORS if t.errors else PRIORS
    out[Signal.PREDICTION_SHIFT].append((t.key, drift.psi(priors, t.classes)))
    labelled = t.correct + t.incorrect
    out[Signal.FEEDBACK].append((t.key, WINDOW_MINUTES * labelled))
    out[Signal.ACCURACY].append((t.key, t.correct / labelled))
    out[Signal.LAST_SCRAPE].append((t.key, MINUTES * 60.0))
    if t.errors:
        values = sum(v for v, _, _ in t.errors.values())
        absolute = sum(a for _, a, _ in t.errors.values())
        squared = sum(q for _, _, q in t.errors.values())
        out[Signal.FEEDBACK_VALUES].append((t.key, WINDOW_MINUTES * values))
        out[Signal.MAE].append((t.key, absolute / values))
        out[Signal.RMSE].append((t.key, (squared / values) ** 0.5))
        out[Signal.BEYOND_TOLERANCE].append((t.key, t.incorrect / labelled))
        return out
    total = sum(t.confidences.values())
    weighted = sum(v * r for v, r in t.confidences.items())
    out[Signal.CONFIDENCE_MEAN].append((t.key, weighted / total))
    for le in (*BUCKETS, float("inf")):
        below = sum(r for v, r in t.confidences.items() if v <= le)
        label = "+Inf" if le == float("inf") else repr(le)
        out[Signal.CONFIDENCE_BELOW].append(({**t.key, "le": label}, below / total))
    cells = t.cells()
    for (actual, predicted), rate in cells.items():
        labels = {**t.key, "actual": actual, "predicted": predicted}
        out[Signal.CONFUSION].append((labels, WINDOW_MINUTES * rate))
    for signal, axis in ((Signal.CLASS_RECALL, 0), (Signal.CLASS_PRECISION, 1)):
        for c in sorted({cell[axis] for cell in cells}):
            rows = sum(r for cell, r in cells.items() if cell[axis] == c)
            out[signal].append(({**t.key, "class": c}, cells.get((c, c), 0.0) / rows))
    if t.expected_correct is not None:  # no counter, no estimate (count() checks it)
        out[Signal.ESTIMATED_ACCURACY].append((t.key, t.expected_correct / total))
    for value, features in t.segments.items():
        for feature, bins in features.items():
            labels = {**t.key, "segment": "supplier", "segment_value": value,
                      "feature": feature}
            reference = SEGMENT_REFERENCE[value][feature]
            out[Signal.SEGMENT_ROWS].append((labels, WINDOW_MINUTES * sum(bins.values())))
            out[Signal.SEGMENT_PSI].append((labels, drift.psi(reference, bins)))
            out[Signal.SEGMENT_JENSEN_SHANNON].append(
                (labels, drift.jensen_shannon(reference, bins)))
    for value, (right, wrong) in t.segment_feedback.items():
        labels = {**t.key, "segment": "supplier", "segment_value": value}
        out[Signal.SEGMENT_FEEDBACK].append((labels, WINDOW_MINUTES * (right + wrong)))
        if right + wrong > 0:  # no labels, no accuracy (count() checks it)
            out[Signal.SEGMENT_ACCURACY].append((labels, right / (right + wrong)))
    return out


def _close(record: str, labels: dict[str, str], value: float) -> dict[str, Any]:
    tolerance = 1e-9 * max(1.0, abs(value))
    return {
        "expr": f"abs({_selector(record, labels)} - {value!r}) < bool {tolerance!r}",
        "eval_time": EVAL,
        "exp_samples": [{"labels": _selector("", labels), "value": 1}],
    }


def _render(template: str, labels: dict[str, str], value: float) -> str:
    text = re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels[m.group(1)], template)
    text = text.replace("{{ $value | humanizePercentage }}", f"{value * 100:.4g}%")
    return text.replace('{{ $value | printf "%.3f" }}', f"{value:.3f}")


def expected_alerts(
    values: dict[Signal, list[tuple[dict[str, str], float]]], t: rules.AlertThresholds
) -> dict[str, list[tuple[dict[str, str], float]]]:
    def lookup(signal: Signal, labels: dict[str, str]) -> float:
        return next(v for lab, v in values[signal] if all(lab[k] == labels[k] for k in lab))

    firing: dict[str, list[tuple[dict[str, str], float]]] = {}
    for labels, psi in values[Signal.FEATURE_PSI]:
        if psi > t.drift_psi and lookup(Signal.FEATURE_ROWS, labels) >= t.drift_min_samples:
            firing.setdefault("VigiaFeatureDrift", []).append((labels, psi))
    regressors = [labels for labels, _ in values[Signal.MAE]]
    for labels, accuracy in values[Signal.ACCURACY]:
        if accuracy < t.accuracy_min and labels not in regressors and (
            lookup(Signal.FEEDBACK, labels) >= t.accuracy_min_feedback
        ):
            firing.setdefault("VigiaAccuracyLow", []).append((labels, accuracy))
    for labels, beyond in values[Signal.BEYOND_TOLERANCE]:
        if beyond > t.beyond_tolerance_max and (
            lookup(Signal.FEEDBACK_VALUES, labels) >= t.error_min_feedback
        ):
            firing.setdefault("VigiaErrorHigh", []).append((labels, beyond))
    for labels, mean in values[Signal.CONFIDENCE_MEAN]:
        if mean < t.confidence_min and lookup(Signal.PREDICTIONS, labels) >= t.drift_min_samples:
            firing.setdefault("VigiaConfidenceLow", []).append((labels, mean))
    for labels, shift in values[Signal.PREDICTION_SHIFT]:
        if shift > t.drift_psi and lookup(Signal.PREDICTIONS, labels) >= t.drift_min_samples:
            firing.setdefault("VigiaPredictionShift", []).append((labels, shift))
    return firing


def promtool_test(
    rule_file: Path,
) -> tuple[dict[str, Any], dict[str, list[tuple[dict[str, str], float]]]]:
    values: dict[Signal, list[tuple[dict[str, str], float]]] = {s: [] for s in Signal}
    series: list[dict[str, str]] = []
    for track in TRACKS:
        series += input_series(track)
        for signal, found in expected(track).items():
            values[signal] += found
    checks = []
    for signal, found in values.items():
        if signal in UNRECORDED_SIGNALS:  # plain selectors, queried as they are
            continue
        record = record_name(signal, rules.RULES_WINDOW)
        checks += [_close(record, labels, value) for labels, value in found]
        checks.append({"expr": f"count({record})", "eval_time": EVAL,
                       "exp_samples": [{"labels": "{}", "value": len(found)}]})
    thresholds = rules.AlertThresholds()
    alerts = {a["alert"]: a for a in rules.alerting_rules(thresholds)}
    firing = expected_alerts(values, thresholds)
    alert_tests = []
    for name, alert in alerts.items():
        exp = [
            {
                "exp_labels": {**labels, **alert["labels"]},
                "exp_annotations": {k: _render(v, labels, value)
                                    for k, v in alert["annotations"].items()},
            }
            for labels, value in firing.get(name, [])
        ]
        alert_tests.append({"eval_time": EVAL, "alertname": name, "exp_alerts": exp})
    return {
        "rule_files": [str(rule_file)],
        "evaluation_interval": "1m",
        "tests": [{
            "interval": "1m",
            "input_series": series,
            "promql_expr_test": checks,
            "alert_rule_test": alert_tests,
        }],
    }, firing


def test_rules_compute_what_vigia_drift_computes(tmp_path: Path) -> None:
    rule_file = Path(__file__).resolve().parents[3] / "manifests/prometheus" / rules.RULE_FILE
    document, firing = promtool_test(rule_file)
    # The scenario exercises every alert, and also leaves tracks that must not fire.
    assert set(firing) == {"VigiaFeatureDrift", "VigiaAccuracyLow", "VigiaConfidenceLow",
                           "VigiaPredictionShift", "VigiaErrorHigh"}
    test_file = tmp_path / "vigia-rules.test.yaml"
    test_file.write_text(yaml.safe_dump(document, sort_keys=False))
    check = subprocess.run([str(binary("promtool")), "check", "rules", str(rule_file)],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    result = subprocess.run([str(binary("promtool")), "test", "rules", str(test_file)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-6000:]
    assert "SUCCESS" in result.stdout + result.stderr
