"""What `kubectl describe md` says, read with the real kubectl from the real API server
while the operator runs under its RBAC: every condition and Event message one sentence
under 200 characters with the numbers its decision used, for every kind (monitoring:
drift, accuracy, confidence, KPIs, too few samples, Prometheus down; rollout: waiting for
data, a step held, a step passed, promoting, promoted, analysis failed, rolling back,
rolled back; retraining: started, skipped for cooldown, the Job failed, a candidate
accepted, refused, or refused for too few labelled rows); a canary brought in by a
rollout is Created, not Restored; a healthy rollout posts no Warning."""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from vigia_operator.core import reasons
from vigia_operator.core.text import MAX_MESSAGE
from vigia_operator.decide.retraining.policy import Start, Trigger
from vigia_operator.decide.retraining.result import RunResult, from_result
from vigia_operator.decide.retraining.state import RetrainingStatus
from vigia_operator.kube.events import build_event
from vigia_operator.status import retraining as rs
from vigia_operator.status.conditions import merge
from vigia_testbed.kube import kubectl, wait_for
from vigia_testbed.operator import (
    OperatorProcess,
    model_deployment,
    wait_ready,
    wait_stable,
)

from tests.integration.operator.test_operator import apply, events, get, has_event
from tests.integration.operator.with_signals import SIGNALS_FILE
from vigia.retraining import RESULT_SCHEMA, RetrainResult

pytestmark = pytest.mark.integration


def one_sentence(message: str) -> bool:
    return len(message) < MAX_MESSAGE and message.rstrip(".").count(". ") == 0


def described_events(kubeconfig: Path, namespace: str, name: str) -> list[tuple[str, str, str]]:
    """(type, reason, message) of the Events table `kubectl describe` prints."""
    text = kubectl(kubeconfig, "describe", "md", name, "-n", namespace)
    table = text.split("\nEvents:", 1)[1].splitlines()[3:]
    rows = [re.split(r"\s{2,}", line.strip(), maxsplit=4) for line in table if line.strip()]
    return [(row[0], row[1], row[4]) for row in rows if len(row) == 5]


def test_a_healthy_rollout_described_is_sentences_and_no_warning(
    installed: Path, namespace: str, operator: OperatorProcess
) -> None:
    """A canary started, promoted by hand and rolled out: the canary Deployment's first
    creation is Created (not Restored), the promotion's roll is no NotReady Warning."""
    apply(installed, namespace, model_deployment("desc", "s3://models/desc/v1"))
    wait_ready(installed, namespace, "desc")
    kubectl(installed, "patch", "md", "desc", "-n", namespace, "--type=merge",
            "-p", json.dumps({"spec": {"model": {"uri": "s3://models/desc/v2"}}}))
    wait_for(lambda: has_event(installed, namespace, "desc", reasons.CREATED, "desc-canary"),
             60, "the canary Deployment Created")
    kubectl(installed, "annotate", "md", "desc", "-n", namespace, "vigia.dev/rollout=promote")
    wait_stable(installed, namespace, "desc", "v2")
    wait_ready(installed, namespace, "desc")
    wait_for(lambda: has_event(installed, namespace, "desc", reasons.PROMOTED), 60,
             "Promoted Event")

    posted = described_events(installed, namespace, "desc")
    assert posted, "kubectl describe printed no Events"
    assert [(r, m) for t, r, m in posted if t == reasons.WARNING] == []
    assert reasons.RESTORED not in {r for _, r, _ in posted}
    for _, reason, message in posted:
        assert one_sentence(message), (reason, message)
    # The Events API holds the messages whole (describe may shorten a column).
    for event in events(installed, namespace, "desc"):
        assert one_sentence(event["message"]), event
    for cond in get(installed, namespace, "md", "desc")["status"]["conditions"]:
        assert one_sentence(cond["message"]), cond


# -- every message kind, from the operator's own decisions --------------------------------
# One operator for the tests below, fed by a file (with_signals.py) with the measurements
# Prometheus would give: the real monitoring decision, canary analysis, rollout machine and
# retraining policy write the conditions and post the Events that kubectl describes.

TICK = 2
FEATURES = ("ambient_temperature_celsius", "dough_humidity_percent", "line_speed_units_per_min",
            "flour_protein_content", "oven_zone_three_temperature")
KPIS = ("defect_rate_per_thousand", "returned_batches_share", "scrap_share")


@pytest.fixture(scope="module")
def watched(installed: Path) -> Iterator[str]:
    """A namespace for the module's operator, deleted afterwards."""
    name = f"t-describe-{uuid.uuid4().hex[:6]}"
    kubectl(installed, "create", "namespace", name)
    wait_for(lambda: kubectl(installed, "get", "serviceaccount", "default", "-n", name),
             60, f"ServiceAccount default in {name}")
    try:
        yield name
    finally:
        kubectl(installed, "delete", "namespace", name, "--wait=false", "--ignore-not-found")


@pytest.fixture(scope="module")
def signals_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("signals") / "signals.json"


@pytest.fixture(scope="module")
def fed_operator(operator_config: Path, watched: str, signals_file: Path,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[OperatorProcess]:
    process = OperatorProcess(operator_config,
                              tmp_path_factory.mktemp("fed") / "operator.log", [watched],
                              env={"VIGIA_OPERATOR_TICK_SECONDS": str(TICK),
                                   SIGNALS_FILE: str(signals_file)},
                              module="tests.integration.operator.with_signals")
    process.start()
    try:
        yield process
    finally:
        process.stop()
        log = process.log()
        assert "is forbidden: User" not in log, log[-4000:]
        assert "Traceback" not in log, log[-4000:]


def feed(path: Path, namespace: str, name: str, **given: Any) -> None:
    """What the next ticks measure for ``name`` (replacing the file's other models')."""
    written = json.loads(path.read_text()) if path.exists() else {}
    written[f"{namespace}/{name}"] = given
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(written))
    os.replace(tmp, path)


def described_conditions(kubeconfig: Path, namespace: str,
                         name: str) -> dict[str, dict[str, str]]:
    """The conditions as `kubectl describe` prints them, by type: {field: value}."""
    text = kubectl(kubeconfig, "describe", "md", name, "-n", namespace)
    assert "\n  Conditions:\n" in text, text
    block = text.split("\n  Conditions:\n", 1)[1]
    found: dict[str, dict[str, str]] = {}
    current: dict[str, str] = {}
    for line in block.splitlines():
        if not line.startswith("    "):
            break
        key, _, value = line.strip().partition(":")
        if key in current:  # a field seen again: the next condition
            found[current.get("Type", "")] = current
            current = {}
        current[key] = value.strip()
    found[current.get("Type", "")] = current
    return found


def condition_of(kubeconfig: Path, namespace: str, name: str,
                 type_: str) -> dict[str, Any] | None:
    status = get(kubeconfig, namespace, "md", name).get("status") or {}
    return next((c for c in status.get("conditions") or [] if c["type"] == type_), None)


def wait_condition(kubeconfig: Path, namespace: str, name: str, type_: str,
                   reason: str, text: str = "", timeout: float = 60) -> dict[str, Any]:
    seen: list[Any] = [None]

    def found() -> dict[str, Any] | None:
        seen[0] = cond = condition_of(kubeconfig, namespace, name, type_)
        ok = cond is not None and cond["reason"] == reason and text in cond["message"]
        return cond if ok else None
    try:
        return wait_for(found, timeout, f"{type_} {reason} {text!r} on {namespace}/{name}")
    except AssertionError as error:
        raise AssertionError(f"{error}; the condition: {seen[0]}") from None


def wait_event(kubeconfig: Path, namespace: str, name: str, reason: str,
               timeout: float = 60) -> dict[str, Any]:
    return wait_for(lambda: next((e for e in events(kubeconfig, namespace, name)
                                  if e["reason"] == reason), None),
                    timeout, f"{reason} Event on {namespace}/{name}")


def check_described(kubeconfig: Path, namespace: str, name: str,
                    numbers: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, str]]:
    """Every condition and Event `kubectl describe` prints is one sentence under 200
    characters; ``numbers``: what the message of a condition type or an Event reason must
    carry. Returns the Events posted, by reason: (type, message). A decision's Events are
    posted right after the status that records it: awaited briefly."""
    conditions = described_conditions(kubeconfig, namespace, name)
    reasons_wanted = set(numbers) - set(conditions)

    def all_posted() -> dict[str, tuple[str, str]] | None:
        posted = {e["reason"]: (e["type"], e["message"])
                  for e in events(kubeconfig, namespace, name)}
        return posted if reasons_wanted <= set(posted) else None

    posted = wait_for(all_posted, 10,
                      f"Events {sorted(reasons_wanted)} on {namespace}/{name}")
    for cond in conditions.values():
        assert one_sentence(cond["Message"]), cond
    for _, reason, message in described_events(kubeconfig, namespace, name):
        assert one_sentence(message), (reason, message)
    for _, message in posted.values():
        assert one_sentence(message), message
    for kind, wanted in numbers.items():
        message = conditions[kind]["Message"] if kind in conditions else posted[kind][1]
        for number in wanted:
            assert number in message, (kind, number, message)
    return posted


def monitored_model(name: str) -> dict[str, Any]:
    return model_deployment(
        name, "s3://models/bakery/1",
        monitoring={"interval": "10s", "window": "1h",
                    "drift": {"threshold": 0.2, "minSamples": 500},
                    "accuracy": {"min": 0.85, "minFeedback": 100},
                    "confidence": {"min": 0.6},
                    "kpis": [{"name": k, "query": "sum(vigia_predictions_total)", "max": 0.02}
                             for k in KPIS]},
        retraining={"enabled": True, "cooldown": "1h",
                    "dataset": {"uri": "s3://data/bakery.csv", "target": "quality"},
                    # No durable store here: feedback retraining would be refused.
                    "includeFeedback": False,
                    "triggers": {"drift": True, "accuracy": False}})


def degraded_track() -> dict[str, Any]:
    return {"feature_psi": dict(zip(FEATURES, (0.41, 0.36, 0.33, 0.29, 0.05), strict=True)),
            "predictions": 4210, "feedback": 340, "accuracy": 0.712, "confidence_mean": 0.55,
            "confidence_below": {"0.5": 0.3, "0.6": 0.45, "1.0": 1.0}}


def test_monitoring_and_retraining_described(
        installed: Path, watched: str, signals_file: Path, fed_operator: OperatorProcess) -> None:
    """Drift on four features, low accuracy and confidence, three KPIs out of bounds; the
    drift starts a retraining Job (on kwok its pod completes without a result: the Job
    failed), the drift persisting in the cooldown is a skip; then too few samples and KPI
    queries that fail; then Prometheus down."""
    name = "bakery"
    ns = watched
    feed(signals_file, ns, name, monitoring={"tracks": {"stable/1": degraded_track()},
                                             "kpis": dict.fromkeys(KPIS, 0.031)})
    apply(installed, ns, monitored_model(name))
    wait_condition(installed, ns, name, reasons.DRIFTED, reasons.FEATURES_DRIFTED)
    job = wait_event(installed, ns, name, reasons.RETRAINING_STARTED)
    wait_event(installed, ns, name, reasons.RETRAINING_SKIPPED)
    wait_event(installed, ns, name, reasons.RETRAINING_FAILED, 90)
    posted = check_described(installed, ns, name, {
        reasons.DRIFTED: ("PSI above 0.2 for ambient_temperature_celsius (0.410), "
                          "dough_humidity_percent (0.360) (+2 more)", "over 1h",
                          "4210 predictions of version 1"),
        reasons.ACCURACY_LOW: ("accuracy 0.712 from 340 feedback labels of version 1",
                               "minimum 0.85"),
        reasons.CONFIDENCE_LOW: ("mean confidence 0.550 of version 1", "minimum 0.6", "45.0%"),
        reasons.KPI_VIOLATED: ("defect_rate_per_thousand = 0.031", "(+1 more)"),
        reasons.RETRAINING: ("failed", "without a result"),
        reasons.RETRAINING_STARTED: ("candidate version 2", "PSI above 0.2",
                                     "ambient_temperature_celsius (0.410)"),
        reasons.RETRAINING_SKIPPED: ("Drift trigger skipped (Cooldown", "s of 3600s left",
                                     "PSI above 0.2"),
        reasons.RETRAINING_FAILED: ("without a result",),
    })
    assert "Started Job bakery-drift-" in job["message"]
    assert posted[reasons.ACCURACY_BELOW_MIN][0] == reasons.WARNING
    assert posted[reasons.FEATURES_DRIFTED][0] == reasons.NORMAL  # answered by retraining
    # What the sentences leave out is in status.
    status = get(installed, ns, "md", name)["status"]
    assert status["monitoring"]["drift"]["features"] == list(FEATURES[:4])
    assert status["monitoring"]["drift"]["scores"][FEATURES[3]] == 0.29
    assert "until" in status["retraining"]["lastSkip"]["message"]

    feed(signals_file, ns, name, monitoring={
        "tracks": {"stable/1": {**degraded_track(), "predictions": 120, "feedback": 7}},
        "kpiErrors": dict.fromkeys(KPIS, "bad_data: 1:14: parse error: unexpected "
                                   "character. Query rejected.")})
    wait_condition(installed, ns, name, reasons.DRIFTED, reasons.INSUFFICIENT_DATA)
    check_described(installed, ns, name, {
        reasons.DRIFTED: ("120 predictions of version 1 over 1h; drift needs 500",),
        reasons.ACCURACY_LOW: ("7 feedback labels of version 1 over 1h; accuracy needs 100",),
        reasons.CONFIDENCE_LOW: ("120 predictions", "confidence needs 500"),
        reasons.KPI_VIOLATED: ("defect_rate_per_thousand: bad_data", "(+2 more)"),
    })

    feed(signals_file, ns, name, error="collection failed: HTTPConnectionPool(host="
         "'prometheus', port=9090): Max retries exceeded. Connection refused.",
         monitoring={"tracks": {"stable/1": degraded_track()}})
    wait_condition(installed, ns, name, reasons.DRIFTED, reasons.PROMETHEUS_UNAVAILABLE)
    check_described(installed, ns, name, {
        reasons.DRIFTED: ("Prometheus could not be queried", "Max retries exceeded"),
    })


def canary_model(name: str, uri: str) -> dict[str, Any]:
    return model_deployment(name, uri, rollout={
        "steps": [{"weight": 25, "pause": "10s"}, {"weight": 50, "pause": "20s"}],
        "analysis": {"interval": "10s", "minSamples": 100, "minFeedback": 50,
                     "failureLimit": 1,
                     "gates": {"errorRate": 0.01, "latencyP95": 2.0, "accuracyDrop": 0.05}}})


def track(requests: float, *, errors: float = 0, correct: float = 380,
          feedback: float = 400) -> dict[str, Any]:
    return {"requests": requests, "errors": errors, "latency_p95_s": 0.012,
            "feedback_correct": correct, "feedback_total": feedback,
            "predictions": {"ok": requests * 0.7, "bad": requests * 0.3}, "input_drift": 0.05}


def test_a_rollout_described_from_start_to_rollback(
        installed: Path, watched: str, signals_file: Path, fed_operator: OperatorProcess) -> None:
    """A canary short of data, then passing its steps and promoted; the next one failing
    its analysis and rolled back."""
    name, ns = "oven", watched
    apply(installed, ns, canary_model(name, "s3://models/oven/1"))
    wait_ready(installed, ns, name)
    feed(signals_file, ns, name, canary={"canary/2": track(10, feedback=3, correct=3),
                                         "stable/1": track(40)})
    apply(installed, ns, canary_model(name, "s3://models/oven/2"))
    wait_condition(installed, ns, name, reasons.PROGRESSING, reasons.WAITING_FOR_DATA)
    check_described(installed, ns, name, {
        reasons.PROGRESSING: ("Canary 2 at step 1/2", "waiting for data",
                              "(10/100 canary requests, 40 stable", "3/50 canary feedback"),
        reasons.ROLLOUT_STARTED: ("Canary 2 started beside stable 1", "step 1/2 at 25%"),
        reasons.WAITING_FOR_DATA: ("10/100 canary requests",),
    })

    feed(signals_file, ns, name, canary={"canary/2": track(1030), "stable/1": track(4120)})
    wait_condition(installed, ns, name, reasons.PROGRESSING, reasons.ANALYZING, "Pass")
    check_described(installed, ns, name, {
        # The labels add up from analysis to analysis: their count (and so the interval)
        # depends on how many analyses have run.
        reasons.PROGRESSING: ("Canary 2 at step", "last Pass: accuracyDrop 0.00 [-0.0",
                              "] ≤ 0.05 (", " stable labels) (+4 more)"),
    })
    wait_stable(installed, ns, name, "2")
    wait_event(installed, ns, name, reasons.PROMOTED)
    check_described(installed, ns, name, {
        reasons.ROLLOUT_STEP: ("Canary 2 to step 2/2 at 50%", "Pass: accuracyDrop 0.00 [",
                               "] ≤ 0.05 ("),
        reasons.PROMOTING: ("Promoting canary 2 over stable 1", "all steps passed",
                            "Pass: accuracyDrop 0.00 ["),
        reasons.PROMOTED: ("Canary 2 promoted", "replacing 1", "0 failed analyses"),
    })

    feed(signals_file, ns, name, canary={
        "canary/3": track(1030, errors=90, correct=120), "stable/2": track(4120)})
    apply(installed, ns, canary_model(name, "s3://models/oven/3"))
    wait_event(installed, ns, name, reasons.ROLLED_BACK, 90)
    posted = check_described(installed, ns, name, {
        reasons.ANALYSIS_FAILED: ("Canary 3 analysis failed (1 of failureLimit 1)",
                                  "errorRate 0.08738 > 0.01", "accuracyDrop 0.65 [0.",
                                  "] > 0.05 (", " stable labels) on 1030 canary"),
        reasons.ROLLING_BACK: ("Rolling back canary 3 at step 1/2",
                               "1 failed analyses (failureLimit 1)", "errorRate 0.08738 > 0.01"),
        reasons.ROLLED_BACK: ("Canary 3 removed (RolledBack)", "stable 2 serves all traffic"),
    })
    assert {posted[r][0] for r in (reasons.ANALYSIS_FAILED, reasons.ROLLING_BACK,
                                   reasons.ROLLED_BACK)} == {reasons.WARNING}
    history = get(installed, ns, "md", name)["status"]["history"]
    assert history[0]["outcome"] == "RolledBack" and "accuracyDrop" in history[0]["message"]


# -- a retraining Job's result -----------------------------------------------------------
# On kwok a Job's pod completes without running `vigia-retrain` (the Job-failed case above
# is real); an accepted or refused candidate needs the job's termination message, so these
# are the operator's own builders (result, condition, Event body) on realistic results,
# written where kubectl describes them.

RESULT_JOB = "bakery-line-3-drift-202612071200"


def _job_result(verdict: str, codes: list[dict[str, str]]) -> RunResult:
    recent = {"rows": 3900, "current": {"accuracy": 0.8333},
              "candidate": {"accuracy": 0.8851 if verdict == "Accepted" else 0.8401}}
    holdout = {"rows": 1000, "current": {"accuracy": 0.889}, "candidate": {"accuracy": 0.873}}
    candidate = {"version": "2", "uri": "file:///b/2", "digest": "sha256:" + "c" * 64,
                 "reportUri": "file:///b/2.json"} if verdict == "Accepted" else None
    return from_result(RetrainResult.model_validate({
        "schema": RESULT_SCHEMA, "verdict": verdict, "reasons": codes, "candidate": candidate,
        "metrics": {"recent": recent, "holdout": holdout},
        "gate": {"minImprovement": 0.02, "maxHoldoutLoss": 0.02}}))


def _described_result(kubeconfig: Path, namespace: str, name: str, result: RunResult,
                      auto: bool) -> None:
    apply(kubeconfig, namespace, model_deployment(name, "s3://models/bakery/1"))
    trigger = Trigger(reasons.TRIGGER_DRIFT, "Drifted: PSI above 0.2 for dough_humidity "
                      "(0.360) over 1h (4210 predictions of version 1)",
                      datetime(2026, 12, 7, 12, tzinfo=UTC))
    running, _ = rs.started(RetrainingStatus(), Start(trigger, RESULT_JOB),
                            "2026-12-07T12:00:00Z", "s3://models/bakery/1", "2")
    state, posted = rs.finished(running, RESULT_JOB, result, "2026-12-07T12:10:00Z", auto)
    found = rs.condition(state)
    assert found is not None
    written = merge([], [found], now="2026-12-07T12:10:00Z", generation=1)
    kubectl(kubeconfig, "patch", "md", name, "-n", namespace, "--subresource=status",
            "--type=merge", "-p", json.dumps({"status": {"conditions": written}}))
    body = get(kubeconfig, namespace, "md", name)
    for event in posted:
        kubectl(kubeconfig, "create", "-n", namespace, "-f", "-", input=json.dumps(build_event(
            body, event.type, event.reason, event.message, "2026-12-07T12:10:00Z", "test")))


@pytest.mark.parametrize(("verdict", "codes", "auto", "numbers"), [
    ("Accepted", [], False, {
        reasons.RETRAINING: ("Candidate 2 accepted", "83.3% → 88.5%", "3,900 recent"),
        reasons.CANDIDATE_ACCEPTED: ("Candidate 2 accepted", "83.3% → 88.5%"),
        reasons.CANDIDATE_AWAITING_APPROVAL: ("vigia.dev/approve-candidate=2",)}),
    ("Refused", [{"code": "NotEnoughImprovement", "message": "gain 0.0068"}], True, {
        reasons.RETRAINING: ("Candidate refused", "83.3% → 84.0%", "2 points gain required"),
        reasons.CANDIDATE_REFUSED: ("83.3% → 84.0% on 3,900 recent labelled items",)}),
    ("Refused", [{"code": "NoFeedback",
                  "message": "12 usable labelled feedback rows; at least 200 needed"}], True, {
        reasons.RETRAINING: ("NoFeedback", "12 usable labelled feedback rows",
                             "200 needed"),
        reasons.CANDIDATE_REFUSED: ("NoFeedback", "12 usable", "200 needed")}),
])
def test_a_retraining_result_described(installed: Path, namespace: str, verdict: str,
                                       codes: list[dict[str, str]], auto: bool,
                                       numbers: dict[str, tuple[str, ...]]) -> None:
    name = f"judged-{len(codes)}{verdict.lower()}"
    _described_result(installed, namespace, name, _job_result(verdict, codes), auto)
    check_described(installed, namespace, name, numbers)
