"""Every kind of condition and Event message, built by the operator's own builders from
realistic inputs (long feature names, many drifted features, several KPIs, an analysis
that failed on several gates): one sentence under 200 characters with the numbers the
decision used. tests/integration/operator/test_describe.py renders them with kubectl."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from vigia_operator.core import reasons
from vigia_operator.core.text import MAX_MESSAGE, listed, one_sentence
from vigia_operator.core.types import Event
from vigia_operator.decide import monitoring as mon
from vigia_operator.decide.measurements import ModelSignals, TrackSignals
from vigia_operator.decide.retraining.policy import (
    Monitoring,
    ObservedJob,
    Skip,
    Start,
    Trigger,
    decide,
)
from vigia_operator.decide.retraining.result import from_result, read_result
from vigia_operator.decide.retraining.state import RetrainingStatus
from vigia_operator.decide.rollout.gates import Measurements, TrackMeasurements, analyse
from vigia_operator.decide.rollout.machine import decide as roll
from vigia_operator.decide.rollout.model import CanaryState, HistoryEntry, RolloutDecision
from vigia_operator.status import retraining as rs
from vigia_operator.view.monitoring import KPI, MonitoringSpec
from vigia_operator.view.retraining import RetrainingSpec, Triggers
from vigia_operator.view.rollout import RolloutSpec

from tests.unit.operator.decide.rollout.helpers import (
    V1,
    V2,
    at,
    inputs,
    observed,
    rollout_spec,
    started,
)
from vigia.retraining import FAILED, REFUSED, RESULT_SCHEMA, Reason, RetrainResult

NOW = 1_800_000_000.0
FEATURES = ("ambient_temperature_celsius", "dough_humidity_percent", "line_speed_units_per_min",
            "flour_protein_content", "oven_zone_three_temperature")


def one_sentence_with(message: str, *numbers: str) -> None:
    """The property every message has, and the numbers this one must carry."""
    assert len(message) < MAX_MESSAGE, (len(message), message)
    assert message.rstrip(".").count(". ") == 0, message
    assert "\n" not in message, message
    for number in numbers:
        assert number in message, (number, message)


# -- the helpers -------------------------------------------------------------------------


def test_listed_names_the_first_and_counts_the_rest() -> None:
    assert listed(["a"]) == "a"
    assert listed(["a", "b"]) == "a, b"
    assert listed(["a", "b", "c", "d"]) == "a, b (+2 more)"
    assert listed(["a", "b", "c"], 1, sep="; ") == "a (+2 more)"


def test_one_sentence_joins_sentences_and_cuts_at_a_word() -> None:
    assert one_sentence("Pods failed.  Quota\nexceeded.") == "Pods failed; Quota exceeded."
    assert one_sentence("no period") == "no period"
    cut = one_sentence("word " * 100)
    assert len(cut) < MAX_MESSAGE and cut.endswith("word…")


# -- monitoring --------------------------------------------------------------------------


def _track(**changes: object) -> TrackSignals:
    track = TrackSignals(
        feature_psi={f: 0.02 for f in FEATURES}, predictions=4210.0, feedback=340.0,
        accuracy=0.93, confidence_mean=0.82,
        confidence_below={0.5: 0.0, 0.6: 0.1, 1.0: 1.0}, last_scrape=NOW - 10)
    for name, value in changes.items():
        setattr(track, name, value)
    return track


DEFAULT_MONITORING = MonitoringSpec()


def _assess(track: TrackSignals | None, spec: MonitoringSpec = DEFAULT_MONITORING, *,
            kpis: dict[str, float] | None = None, kpi_errors: dict[str, str] | None = None,
            unavailable: str | None = None) -> mon.MonitoringVerdict:
    signals = ModelSignals(tracks={} if track is None else {("stable", "2"): track},
                           kpis=kpis or {}, kpi_errors=kpi_errors or {})
    return mon.assess(spec, signals, now=NOW, version="2", unavailable=unavailable)


def _message(verdict: mon.MonitoringVerdict, type_: str, reason: str) -> str:
    found = verdict.condition(type_)
    assert found is not None and found.reason == reason, found
    return found.message


def test_drift_on_many_features_names_the_worst_and_counts_the_rest() -> None:
    psi = dict(zip(FEATURES, (0.41, 0.36, 0.33, 0.29, 0.05), strict=True))
    verdict = _assess(_track(feature_psi=psi))
    message = _message(verdict, reasons.DRIFTED, reasons.FEATURES_DRIFTED)
    one_sentence_with(message, "PSI above 0.2", "ambient_temperature_celsius (0.410)",
                      "dough_humidity_percent (0.360)", "(+2 more)", "4210 predictions",
                      "of version 2", "1h")
    # What the sentence leaves out is in status.monitoring.drift.
    drift = verdict.section["drift"]
    assert drift["features"] == list(FEATURES[:4]) and drift["scores"][FEATURES[3]] == 0.29


def test_no_drift_names_the_highest_score() -> None:
    message = _message(_assess(_track()), reasons.DRIFTED, reasons.NO_DRIFT)
    one_sentence_with(message, "highest PSI 0.020", "within 0.2", "4210 predictions")


def test_low_accuracy_and_confidence_carry_their_numbers() -> None:
    verdict = _assess(_track(accuracy=0.712, confidence_mean=0.55))
    one_sentence_with(_message(verdict, reasons.ACCURACY_LOW, reasons.ACCURACY_BELOW_MIN),
                      "accuracy 0.712", "340 feedback labels", "minimum 0.85", "of version 2")
    one_sentence_with(_message(verdict, reasons.CONFIDENCE_LOW, reasons.CONFIDENCE_BELOW_MIN),
                      "mean confidence 0.550", "minimum 0.6", "10.0%")


def test_too_few_samples_are_insufficient_data_with_the_counts() -> None:
    verdict = _assess(_track(predictions=120.0, feedback=7.0))
    one_sentence_with(_message(verdict, reasons.DRIFTED, reasons.INSUFFICIENT_DATA),
                      "120 predictions of version 2", "drift needs 500")
    one_sentence_with(_message(verdict, reasons.ACCURACY_LOW, reasons.INSUFFICIENT_DATA),
                      "7 feedback labels", "accuracy needs 100")


def test_kpis_out_of_bounds_failed_and_met() -> None:
    kpis = tuple(KPI(name, "sum(x)", None, 0.02) for name in
                 ("defect_rate_per_thousand_loaves", "returned_batches_share", "scrap_share"))
    spec = MonitoringSpec(kpis=kpis)
    values = {k.name: 0.031 for k in kpis}
    violated = _message(_assess(_track(), spec, kpis=values), reasons.KPI_VIOLATED,
                        reasons.KPIS_VIOLATED)
    one_sentence_with(violated, "defect_rate_per_thousand_loaves = 0.031",
                      "[-inf, 0.02]", "(+1 more)")
    error = "bad_data: 1:14: parse error: unexpected character. Query rejected. " * 4
    failed = _message(_assess(_track(), spec, kpi_errors={k.name: error for k in kpis}),
                      reasons.KPI_VIOLATED, reasons.KPI_QUERY_FAILED)
    one_sentence_with(failed, "defect_rate_per_thousand_loaves: bad_data")
    met = _message(_assess(_track(), spec, kpis={k.name: 0.01 for k in kpis}),
                   reasons.KPI_VIOLATED, reasons.KPIS_MET)
    one_sentence_with(met, "within bounds", "scrap_share = 0.01")


def test_prometheus_down_is_one_sentence_and_the_section_keeps_the_whole_error() -> None:
    error = ("HTTPConnectionPool(host='prometheus.monitoring.svc', port=9090): Max retries "
             "exceeded. Caused by NewConnectionError: Failed to establish a new connection. "
             + "x" * 200)
    verdict = _assess(_track(), unavailable=error)
    message = _message(verdict, reasons.DRIFTED, reasons.PROMETHEUS_UNAVAILABLE)
    one_sentence_with(message, "Prometheus could not be queried")
    assert verdict.section["message"].endswith("x" * 200)


# -- rollout -----------------------------------------------------------------------------


def _measured(*, canary_errors: float = 0.0, canary_correct: float = 380.0,
              requests: float = 4120.0, feedback: float = 400.0,
              canary_latency: float = 0.013) -> Measurements:
    stable = TrackMeasurements(requests=requests, latency_p95_s=0.012, feedback_correct=380,
                               feedback_total=feedback, predictions={"ok": 3000, "bad": 1120},
                               input_drift=0.05)
    canary = replace(stable, errors=canary_errors, feedback_correct=canary_correct,
                     latency_p95_s=canary_latency, requests=requests / 4)
    return Measurements(canary=canary, stable=stable)


# A passing analysis names the accuracy with its interval and labels (the other gates are
# in lastAnalysis.gates).
PASSED = "Pass: accuracyDrop 0.00 [-0.04, 0.04] ≤ 0.05 (400 canary, 400 stable labels) (+4 more)"
DROPPED = "accuracyDrop 0.65 [0.58, 0.72] > 0.05"


def _full_spec() -> RolloutSpec:
    return rollout_spec(minFeedback=50, gates={
        "errorRate": 0.01, "latencyP95": 2.0, "accuracyDrop": 0.05, "predictionShift": 0.2,
        "inputDrift": 0.1})


def test_an_analysis_is_one_sentence_its_gates_in_fields() -> None:
    spec = _full_spec()
    failed = analyse(spec.analysis, _measured(canary_errors=90, canary_correct=120,
                                              canary_latency=0.031), at(60))
    one_sentence_with(failed.message, "Fail:", "errorRate 0.08738 > 0.01", "latencyP95 2.583 > 2",
                      f"{DROPPED} (400 canary, 400 stable labels)", "1030 canary",
                      "4120 stable")
    assert {g.name for g in failed.gates} >= {"errorRate", "latencyP95", "accuracyDrop"}
    assert (failed.canary_feedback, failed.stable_feedback) == (400, 400)
    passed = analyse(spec.analysis, _measured(), at(60))
    one_sentence_with(passed.message, PASSED, "1030 canary", "4120 stable")
    short = analyse(spec.analysis, _measured(requests=40, feedback=3), at(60))
    one_sentence_with(short.message, "Inconclusive: too little data for 4 of 5 gates",
                      "10/100 canary requests", "40 stable", "3/50 canary feedback")
    feedback_only = analyse(spec.analysis, _measured(feedback=3), at(60))
    one_sentence_with(feedback_only.message, "too little data for accuracyDrop (1030/100",
                      "3/50 canary feedback")
    by_policy = analyse(replace(spec.analysis, on_no_data="Pass"), _measured(feedback=3), at(60))
    one_sentence_with(by_policy.message, "Pass by onNoData=Pass: too little data")


def _holding(spec: RolloutSpec, canary: CanaryState, now: datetime) -> RolloutDecision:
    return roll(inputs(spec, canary=canary, now=now,
                       observed=observed(canary_ready=1, stable_ready=3)))


def test_rollout_messages_from_start_to_promotion() -> None:
    spec = _full_spec()
    start = roll(inputs(spec))
    one_sentence_with(start.message, "Canary v2 started beside stable v1", "step 1/2", "10%")
    canary = started(spec)
    passed = analyse(spec.analysis, _measured(), at(61))
    held = _holding(spec, replace(canary, step_started_at=at(0), last_analysis=passed),
                    now=at(62))
    assert held.reason == reasons.ROLLOUT_STEP
    one_sentence_with(held.message, "to step 2/2 at 50%", PASSED)
    analysing = _holding(spec, replace(canary, step_started_at=at(0), last_analysis=passed),
                         now=at(30))
    assert analysing.reason == reasons.ANALYZING
    one_sentence_with(analysing.message, "step 1/2 at 25% of 10%", "pause ends at",
                      PASSED)
    last = replace(canary, step=1, weight=50, step_started_at=at(0), last_analysis=passed)
    promoting = _holding(spec, last, now=at(200))
    assert promoting.reason == reasons.PROMOTING
    one_sentence_with(promoting.message, "Promoting canary v2 over stable v1", "3m20s",
                      "all steps passed", PASSED)
    done = roll(inputs(spec, canary=promoting.canary, now=at(230), observed=observed(
        stable_ready=4, stable_serves=V2.uri)))
    assert done.reason == reasons.PROMOTED
    one_sentence_with(done.message, "Canary v2 promoted", "4/4 pods ready", "replacing v1",
                      "0 failed analyses")


def test_rollout_messages_from_a_failed_analysis_to_the_rollback() -> None:
    spec = _full_spec()
    canary = started(spec)
    bad = analyse(spec.analysis, _measured(canary_errors=90, canary_correct=120), at(60))
    first = _holding(spec, replace(canary, step_started_at=at(0)), now=at(60))
    assert first.reason == reasons.ANALYZING
    failing = roll(inputs(spec, canary=replace(canary, step_started_at=at(0), failures=1,
                                               last_analysis=replace(bad, at=at(20))),
                          analysis=bad, now=at(60),
                          observed=observed(canary_ready=1, stable_ready=3)))
    kinds = {e.reason: e for e in failing.events}
    one_sentence_with(kinds[reasons.ANALYSIS_FAILED].message, "analysis failed (2 of "
                      "failureLimit 2)", "errorRate 0.08738 > 0.01")
    one_sentence_with(kinds[reasons.ROLLING_BACK].message, "Rolling back canary v2",
                      "2 failed analyses (failureLimit 2)", DROPPED)
    assert kinds[reasons.ROLLING_BACK].type == reasons.WARNING
    rolled = roll(inputs(spec, canary=failing.canary, now=at(90), observed=observed(
        stable_ready=4, canary_ready=0, canary_pods=0)))
    assert rolled.reason == reasons.ROLLED_BACK
    one_sentence_with(rolled.message, "Canary v2 removed (RolledBack)", "stable v1",
                      "4/4 pods ready")
    # The history keeps why, gate by gate as the message says it.
    assert "accuracyDrop" in rolled.ended[0].message


def test_rejected_versions_commands_and_waiting_for_data() -> None:
    spec = _full_spec()
    why = "Rolling back canary v2 at step 1/2: 2 failed analyses (failureLimit 2), last " + (
        "Fail: errorRate 0.08738 > 0.01 on 1030 canary, 4120 stable requests")
    rejected = roll(inputs(spec, last_ended=HistoryEntry(V2, "RolledBack", at(0), why)))
    assert rejected.reason == reasons.VERSION_REJECTED
    one_sentence_with(rejected.message, "version v2, RolledBack at", "stable v1")
    unknown = roll(inputs(spec, command="promte"))
    one_sentence_with(unknown.events[0].message, "vigia.dev/rollout=promte")
    short = analyse(spec.analysis, _measured(requests=40, feedback=3), at(60))
    waiting = roll(inputs(spec, canary=replace(started(spec), step_started_at=at(0)),
                          analysis=short, now=at(60),
                          observed=observed(canary_ready=1, stable_ready=3)))
    assert waiting.reason == reasons.WAITING_FOR_DATA
    one_sentence_with(waiting.message, "waiting for data", "10/100 canary requests",
                      "3/50 canary feedback")
    one_sentence_with(waiting.events[0].message, "waiting for data", "10/100 canary")
    assert V1 != V2


# -- retraining --------------------------------------------------------------------------

DRIFT_MESSAGE = ("PSI above 0.2 for ambient_temperature_celsius (0.410), dough_humidity_percent"
                 " (0.360) (+2 more) over 1h (4210 predictions of version 2)")
SPEC = RetrainingSpec(dataset_uri="file:///d.csv", target="y",
                      triggers=Triggers(drift=True, accuracy=True, schedule=None),
                      cooldown=timedelta(hours=1))
AT = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
JOB = "sobaos-bakery-line-3-drift-202612071200"


def _drifted() -> Monitoring:
    return Monitoring({"Drifted": ("True", DRIFT_MESSAGE), "AccuracyLow": ("False", "")})


def _running() -> RetrainingStatus:
    trigger = Trigger(reasons.TRIGGER_DRIFT, f"Drifted: {DRIFT_MESSAGE}", AT)
    state, _ = rs.started(RetrainingStatus(), Start(trigger, JOB), "2026-12-07T12:00:00Z",
                          "pvc://bundles/sobaos/1", "2")
    return state


def test_retraining_started_and_running_carry_the_trigger_numbers() -> None:
    trigger = Trigger(reasons.TRIGGER_DRIFT, f"Drifted: {DRIFT_MESSAGE}", AT)
    _, event = rs.started(RetrainingStatus(), Start(trigger, JOB), "t", "pvc://b/1", "2")
    one_sentence_with(event.message, JOB, "candidate version 2", "PSI above 0.2",
                      "ambient_temperature_celsius (0.410)")
    running = rs.condition(_running())
    assert running is not None and running.reason == reasons.RETRAINING_STARTED
    one_sentence_with(running.message, JOB, "PSI above 0.2", "(0.410)")


def test_skips_for_cooldown_and_a_running_job_say_the_numbers() -> None:
    previous = _running()
    cooldown = decide(SPEC, previous, _drifted(), [ObservedJob(JOB, AT, True)],
                      md_name="sobaos-bakery-line-3", created=AT, now=AT + timedelta(minutes=20))
    assert isinstance(cooldown.action, Skip) and cooldown.action.reason == reasons.SKIP_COOLDOWN
    state, events = rs.skipped(previous, cooldown.action, "2026-12-07T12:20:00Z")
    one_sentence_with(events[0].message, "Drift trigger skipped (Cooldown", "2400s of 3600s left",
                      "PSI above 0.2", "(0.410)")
    # The whole story (last start, until when) stays in status.retraining.lastSkip.
    assert state.last_skip is not None and "until 2026-12-07T13:00:00Z" in state.last_skip.message
    active = decide(replace(SPEC, cooldown=timedelta(minutes=1)), previous, _drifted(),
                    [ObservedJob(JOB, AT, False)], md_name="sobaos-bakery-line-3", created=AT,
                    now=AT + timedelta(minutes=20))
    assert isinstance(active.action, Skip) and active.action.reason == reasons.SKIP_ACTIVE
    _, events = rs.skipped(previous, active.action, "t")
    one_sentence_with(events[0].message, "JobActive: one Job at a time", "PSI above 0.2")


def _result(verdict: str, reasons_: list[dict[str, str]], recent_rows: int = 3900) -> RetrainResult:
    compared = {"rows": recent_rows, "current": {"accuracy": 0.8333},
                "candidate": {"accuracy": 0.8851 if verdict != REFUSED else 0.8401}}
    holdout = {"rows": 1000, "current": {"accuracy": 0.889}, "candidate": {"accuracy": 0.873}}
    candidate = {"version": "2", "uri": "file:///b/2", "digest": "sha256:" + "c" * 64,
                 "reportUri": "file:///b/2.json"} if verdict == "Accepted" else None
    return RetrainResult.model_validate({
        "schema": RESULT_SCHEMA, "verdict": verdict, "reasons": reasons_,
        "candidate": candidate, "metrics": {"recent": compared, "holdout": holdout},
        "gate": {"minImprovement": 0.02, "maxHoldoutLoss": 0.02}})


@pytest.mark.parametrize(("verdict", "codes", "reason", "numbers"), [
    ("Accepted", [], reasons.CANDIDATE_ACCEPTED, ("Candidate 2 accepted", "83.3% → 88.5%",
                                                  "3,900 recent labelled items")),
    (REFUSED, [{"code": Reason.NOT_ENOUGH_IMPROVEMENT, "message": "gain 0.0068"}],
     reasons.CANDIDATE_REFUSED, ("Candidate refused", "83.3% → 84.0%", "2 points gain")),
    (REFUSED, [{"code": Reason.NO_FEEDBACK,
                "message": "12 labelled feedback rows, 200 needed for a comparison"}],
     reasons.CANDIDATE_REFUSED, ("NoFeedback", "12 labelled feedback rows", "200 needed")),
    (FAILED, [{"code": Reason.ERROR, "message": "ValueError: " + "x " * 300}],
     reasons.RETRAINING_FAILED, (f"Job {JOB} failed", "Error: ValueError")),
])
def test_a_jobs_result_is_one_sentence_event_and_condition(
        verdict: str, codes: list[dict[str, str]], reason: str, numbers: tuple[str, ...]) -> None:
    state, events = rs.finished(_running(), JOB, from_result(_result(verdict, codes)),
                                "2026-12-07T12:10:00Z", auto=True)
    assert events[0].reason == reason
    one_sentence_with(events[0].message, *numbers)
    found = rs.condition(state)
    assert found is not None and found.reason == reason
    one_sentence_with(found.message, *numbers)


def test_a_job_that_failed_without_a_result_says_the_controllers_reason() -> None:
    job = {"metadata": {"name": JOB}, "status": {"conditions": [{
        "type": "Failed", "status": "True", "reason": "DeadlineExceeded",
        "message": "Job was active longer than specified deadline. Pods were terminated."}]}}
    state, events = rs.finished(_running(), JOB, read_result(job, []), "t", auto=True)
    assert events[0] == Event(reasons.WARNING, reasons.RETRAINING_FAILED, events[0].message)
    one_sentence_with(events[0].message, JOB, "DeadlineExceeded", "deadline")
    found = rs.condition(state)
    assert found is not None
    one_sentence_with(found.message, "DeadlineExceeded")
