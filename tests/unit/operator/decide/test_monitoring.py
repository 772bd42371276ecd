"""The monitoring decision, from measured signals to status and conditions (pure)."""

from __future__ import annotations

from dataclasses import replace

from vigia_operator.core import reasons
from vigia_operator.decide import monitoring as ev
from vigia_operator.decide.measurements import ModelSignals, TrackSignals
from vigia_operator.view.monitoring import KPI, CostSpec, MonitoringSpec

from vigia.costs import CostTable, ErrorCost

NOW = 1_800_000_000.0
SPEC = MonitoringSpec()


def healthy_track(**changes: object) -> TrackSignals:
    track = TrackSignals(
        feature_rows={"oven_temperature": 2000.0, "shift": 2000.0},
        feature_psi={"oven_temperature": 0.01, "shift": 0.02},
        feature_jensen_shannon={"oven_temperature": 0.03, "shift": 0.04},
        predictions=2000.0,
        prediction_shift=0.01,
        feedback=300.0,
        accuracy=0.93,
        confidence_mean=0.82,
        confidence_below={0.5: 0.0, 0.6: 0.1, 0.7: 0.2, 1.0: 1.0},
        last_scrape=NOW - 10,
    )
    for name, value in changes.items():
        setattr(track, name, value)
    return track


def signals(track: TrackSignals, **kpis: float) -> ModelSignals:
    return ModelSignals(tracks={("stable", "1"): track}, kpis=dict(kpis))


def status_of(verdict: ev.MonitoringVerdict, type_: str) -> tuple[str, str]:
    found = verdict.condition(type_)
    assert found is not None
    return found.status, found.reason


def message(verdict: ev.MonitoringVerdict, type_: str) -> str:
    found = verdict.condition(type_)
    assert found is not None
    return found.message


def test_healthy_model_reports_its_numbers() -> None:
    verdict = ev.assess(SPEC, signals(healthy_track()), now=NOW)
    assert verdict.section["state"] == ev.STATE_HEALTHY
    assert verdict.section["drift"]["score"] == 0.02
    assert verdict.section["drift"]["features"] == []
    assert verdict.section["accuracy"] == 0.93 and verdict.section["feedback"] == 300
    assert verdict.section["confidence"]["belowMin"] == 0.1
    assert verdict.section["samples"] == {"predictions": 2000, "feedback": 300}
    assert status_of(verdict, reasons.DRIFTED) == ("False", reasons.NO_DRIFT)
    assert status_of(verdict, reasons.ACCURACY_LOW) == ("False", reasons.ACCURACY_OK)
    assert "0.020 (shift)" in message(verdict, reasons.DRIFTED)


def test_drifted_features_are_named_with_their_scores() -> None:
    track = healthy_track(feature_psi={"oven_temperature": 0.61, "shift": 0.02})
    verdict = ev.assess(SPEC, signals(track), now=NOW)
    assert status_of(verdict, reasons.DRIFTED) == ("True", reasons.FEATURES_DRIFTED)
    assert verdict.section["drift"]["features"] == ["oven_temperature"]
    assert verdict.section["state"] == ev.STATE_DEGRADED
    text = message(verdict, reasons.DRIFTED)
    assert "oven_temperature (0.610)" in text and "2000 predictions" in text


def test_the_statistic_chosen_in_the_spec_is_the_one_judged() -> None:
    spec = MonitoringSpec(statistic="JensenShannon", drift_threshold=0.035)
    verdict = ev.assess(spec, signals(healthy_track()), now=NOW)
    assert verdict.section["drift"]["features"] == ["shift"]


def test_too_few_predictions_is_insufficient_data_with_the_counts() -> None:
    track = healthy_track(predictions=120.0, feedback=7.0)
    verdict = ev.assess(SPEC, signals(track), now=NOW)
    assert status_of(verdict, reasons.DRIFTED) == ("Unknown", reasons.INSUFFICIENT_DATA)
    assert status_of(verdict, reasons.ACCURACY_LOW) == ("Unknown", reasons.INSUFFICIENT_DATA)
    assert "120 predictions" in message(verdict, reasons.DRIFTED)
    assert "needs 500" in message(verdict, reasons.DRIFTED)
    assert "7 feedback labels" in message(verdict, reasons.ACCURACY_LOW)
    assert verdict.section["state"] == ev.STATE_INSUFFICIENT


def test_low_accuracy() -> None:
    verdict = ev.assess(SPEC, signals(healthy_track(accuracy=0.5)), now=NOW)
    assert status_of(verdict, reasons.ACCURACY_LOW) == ("True", reasons.ACCURACY_BELOW_MIN)
    assert "accuracy 0.500 from 300" in message(verdict, reasons.ACCURACY_LOW)


def test_low_confidence_interpolates_the_share_below_the_minimum() -> None:
    spec = MonitoringSpec(confidence_min=0.85)
    verdict = ev.assess(spec, signals(healthy_track()), now=NOW)
    assert status_of(verdict, reasons.CONFIDENCE_LOW) == ("True", reasons.CONFIDENCE_BELOW_MIN)
    # between le=0.7 (0.2) and le=1.0 (1.0): 0.2 + 0.5 * 0.8
    assert verdict.section["confidence"]["belowMin"] == 0.6


def test_kpis_are_judged_against_their_bounds() -> None:
    spec = MonitoringSpec(kpis=(KPI("scrap", "q1", None, 0.05), KPI("yield", "q2", 0.9, None)))
    ok = ev.assess(spec, signals(healthy_track(), scrap=0.01, **{"yield": 0.95}), now=NOW)
    assert status_of(ok, reasons.KPI_VIOLATED) == ("False", reasons.KPIS_MET)
    bad = ev.assess(spec, signals(healthy_track(), scrap=0.2, **{"yield": 0.95}), now=NOW)
    assert status_of(bad, reasons.KPI_VIOLATED) == ("True", reasons.KPIS_VIOLATED)
    assert "scrap = 0.2" in message(bad, reasons.KPI_VIOLATED)
    assert bad.section["kpis"][0] == {"name": "scrap", "max": 0.05, "value": 0.2, "violated": True}


def test_a_failed_kpi_query_is_unknown_for_that_kpi_only() -> None:
    spec = MonitoringSpec(kpis=(KPI("scrap", "bad(", None, 0.05),))
    model = signals(healthy_track())
    model.kpi_errors["scrap"] = "HTTP 400: parse error"
    verdict = ev.assess(spec, model, now=NOW)
    assert status_of(verdict, reasons.KPI_VIOLATED) == ("Unknown", reasons.KPI_QUERY_FAILED)
    assert status_of(verdict, reasons.DRIFTED) == ("False", reasons.NO_DRIFT)


def test_prometheus_down_is_unknown_and_keeps_the_previous_numbers() -> None:
    previous = ev.assess(SPEC, signals(healthy_track()), now=NOW - 60).section
    verdict = ev.assess(
        SPEC, None, now=NOW, unavailable="connection refused", previous=previous
    )
    assert {c.status for c in verdict.conditions} == {"Unknown"}
    assert {c.reason for c in verdict.conditions} == {reasons.PROMETHEUS_UNAVAILABLE}
    assert verdict.section["state"] == ev.STATE_UNKNOWN
    assert verdict.section["evaluatedAt"] == previous["evaluatedAt"]
    assert verdict.section["accuracy"] == 0.93


def test_stale_data_decides_nothing() -> None:
    verdict = ev.assess(SPEC, signals(healthy_track(last_scrape=NOW - 600)), now=NOW)
    assert {c.reason for c in verdict.conditions} == {reasons.STALE_DATA}
    assert "600s old" in verdict.conditions[0].message


def test_no_metrics_at_all_is_no_data() -> None:
    verdict = ev.assess(SPEC, ModelSignals(), now=NOW)
    assert {(c.status, c.reason) for c in verdict.conditions} == {("Unknown", reasons.NO_DATA)}


def test_disabled_monitoring() -> None:
    verdict = ev.assess(MonitoringSpec(enabled=False), None, now=NOW)
    assert verdict.section["state"] == ev.STATE_DISABLED


def test_recorded_signals_without_rules_are_no_data() -> None:
    track = healthy_track(from_rules=True, rules_evaluated=None)
    verdict = ev.assess(SPEC, signals(track), now=NOW)
    assert {(c.status, c.reason) for c in verdict.conditions} == {("Unknown", reasons.NO_DATA)}
    assert "rules" in verdict.conditions[0].message


def test_recording_rules_that_stopped_are_stale() -> None:
    track = healthy_track(from_rules=True, rules_evaluated=NOW - 900)
    verdict = ev.assess(SPEC, signals(track), now=NOW)
    assert {c.reason for c in verdict.conditions} == {reasons.STALE_DATA}
    fresh = healthy_track(from_rules=True, rules_evaluated=NOW - 30)
    assert ev.assess(SPEC, signals(fresh), now=NOW).section["state"] == ev.STATE_HEALTHY


def test_a_version_is_judged_on_its_own_series_not_its_predecessors() -> None:
    drifted_old = healthy_track(feature_psi={"ambient_temperature": 1.01}, accuracy=0.848)
    fresh_new = healthy_track(predictions=40.0, feedback=12.0, accuracy=0.97)
    both = ModelSignals(tracks={("stable", "1"): drifted_old, ("stable", "2"): fresh_new})
    verdict = ev.assess(SPEC, both, now=NOW, version="2")
    assert verdict.section["version"] == "2" and verdict.section["state"] == ev.STATE_INSUFFICIENT
    assert verdict.section["samples"] == {"predictions": 40, "feedback": 12}
    assert status_of(verdict, reasons.DRIFTED) == ("Unknown", reasons.INSUFFICIENT_DATA)
    assert message(verdict, reasons.DRIFTED) == (
        f"40 predictions of version 2 over 1h; drift needs {SPEC.drift_min_samples}")
    assert message(verdict, reasons.ACCURACY_LOW) == (
        f"12 feedback labels of version 2 over 1h; accuracy needs {SPEC.accuracy_min_feedback}")
    texts = " ".join(c.message for c in verdict.conditions)
    assert "1.01" not in texts and "0.848" not in texts  # the predecessor's numbers
    old = ev.assess(SPEC, both, now=NOW, version="1")
    assert status_of(old, reasons.DRIFTED) == ("True", reasons.FEATURES_DRIFTED)


def test_a_version_without_series_yet_has_no_samples_not_no_data() -> None:
    only_old = ModelSignals(tracks={("stable", "1"): healthy_track()})
    verdict = ev.assess(SPEC, only_old, now=NOW, version="2")
    assert verdict.section["samples"] == {"predictions": 0, "feedback": 0}
    assert {status_of(verdict, t) for t in (reasons.DRIFTED, reasons.ACCURACY_LOW,
                                            reasons.CONFIDENCE_LOW)} == {
        ("Unknown", reasons.INSUFFICIENT_DATA)}
    assert "0 predictions of version 2" in message(verdict, reasons.DRIFTED)
    stale = ModelSignals(tracks={("stable", "1"): healthy_track(last_scrape=NOW - 900)})
    assert status_of(ev.assess(SPEC, stale, now=NOW, version="2"),
                     reasons.DRIFTED)[1] == reasons.STALE_DATA


def test_a_version_seen_only_by_its_unrecorded_gauges_has_no_samples_not_no_data() -> None:
    """Just promoted: the new server's vigia_prediction_log_up is scraped, the recording
    rules have not run over it yet (no scrape time): routine, not a Warning."""
    first_scrape = TrackSignals(log_up=1.0, log_buffered=0.0, from_rules=True)
    tracks = {("stable", "1"): healthy_track(), ("stable", "2"): first_scrape}
    verdict = ev.assess(SPEC, ModelSignals(tracks=tracks), now=NOW, version="2")
    assert verdict.section["samples"] == {"predictions": 0, "feedback": 0}
    assert status_of(verdict, reasons.DRIFTED) == ("Unknown", reasons.INSUFFICIENT_DATA)
    alone = ModelSignals(tracks={("stable", "2"): first_scrape})
    assert status_of(ev.assess(SPEC, alone, now=NOW, version="2"),
                     reasons.DRIFTED) == ("Unknown", reasons.NO_DATA)


def test_a_prediction_log_that_cannot_be_written_is_a_condition_with_the_rows_waiting() -> None:
    """The servers stay ready during a database outage; their vigia_prediction_log_up
    says it, and the operator turns it into PredictionLogFailing with the numbers."""
    down = ev.assess(SPEC, signals(healthy_track(log_up=0.0, log_buffered=4321.0)), now=NOW)
    assert status_of(down, reasons.PREDICTION_LOG_FAILING) == ("True", reasons.LOG_UNWRITABLE)
    assert "4321 rows wait in memory" in message(down, reasons.PREDICTION_LOG_FAILING)
    assert down.section["state"] == ev.STATE_DEGRADED
    up = ev.assess(SPEC, signals(healthy_track(log_up=1.0, log_buffered=0.0)), now=NOW)
    assert status_of(up, reasons.PREDICTION_LOG_FAILING) == ("False", reasons.LOG_WRITABLE)
    assert up.section["state"] == ev.STATE_HEALTHY
    # A server older than the metric: Unknown, without making the whole verdict Unknown.
    older = ev.assess(SPEC, signals(healthy_track()), now=NOW)
    assert status_of(older, reasons.PREDICTION_LOG_FAILING) == (
        "Unknown", reasons.INSUFFICIENT_DATA)
    assert older.section["state"] == ev.STATE_HEALTHY


def test_per_class_recall_and_precision_are_in_the_status() -> None:
    track = healthy_track(class_recall={"good": 0.98, "defective": 0.4},
                          class_precision={"good": 0.91234567})
    section = ev.assess(SPEC, signals(track), now=NOW).section
    assert section["classes"] == [
        {"name": "defective", "recall": 0.4},
        {"name": "good", "recall": 0.98, "precision": 0.9123},
    ]


COSTS = CostSpec(CostTable((ErrorCost("good", "defective", 10.0),
                            ErrorCost("defective", "good", 1.0)), "per 1,000 cakes"), max=300.0)
CHEAP = {("good", "good"): 900.0, ("defective", "defective"): 50.0,
         ("defective", "good"): 20.0, ("good", "defective"): 30.0}  # 230 per 1,000
DEAR = {("good", "good"): 930.0, ("defective", "defective"): 30.0,
        ("defective", "good"): 40.0, ("good", "defective"): 0.0}  # 400 per 1,000


def test_cost_above_its_maximum_speaks_in_the_unit_up_from_the_first_measure() -> None:
    spec = replace(SPEC, costs=COSTS)
    first = ev.assess(spec, signals(healthy_track(confusion=CHEAP)), now=NOW, version="1")
    assert status_of(first, reasons.COST_HIGH) == ("False", reasons.COST_OK)
    assert first.section["cost"]["value"] == 230.0 and first.section["cost"]["reference"] == 230.0
    assert message(first, reasons.COST_HIGH) == (
        "expected cost 230 per 1,000 cakes from 1000 labelled predictions of version 1 over 1h"
        " (maximum 300)")
    later = ev.assess(spec, signals(healthy_track(confusion=DEAR)), now=NOW + 60, version="1",
                      previous=first.section)
    assert status_of(later, reasons.COST_HIGH) == ("True", reasons.COST_ABOVE_MAX)
    assert message(later, reasons.COST_HIGH).startswith(
        "expected cost 400 per 1,000 cakes, up from 230 from 1000 labelled")
    assert later.section["state"] == ev.STATE_DEGRADED
    assert later.section["cost"]["referenceAt"] == first.section["cost"]["referenceAt"]
    low, high = later.section["cost"]["low"], later.section["cost"]["high"]
    assert low < 400 < high
    # A new version starts its own reference.
    other = ev.assess(spec, ModelSignals(tracks={("stable", "2"): healthy_track(
        confusion=DEAR)}), now=NOW + 120, version="2", previous=later.section)
    assert other.section["cost"]["reference"] == 400.0


def test_cost_without_enough_labels_or_without_costs() -> None:
    few = {("good", "good"): 40.0, ("defective", "good"): 10.0}
    verdict = ev.assess(replace(SPEC, costs=COSTS), signals(healthy_track(confusion=few)),
                        now=NOW)
    assert status_of(verdict, reasons.COST_HIGH) == ("Unknown", reasons.INSUFFICIENT_DATA)
    assert "50 labelled predictions" in message(verdict, reasons.COST_HIGH)
    assert verdict.section["state"] == ev.STATE_HEALTHY  # optional: not the whole verdict
    plain = ev.assess(SPEC, signals(healthy_track(confusion=CHEAP)), now=NOW)
    assert status_of(plain, reasons.COST_HIGH) == ("False", reasons.NO_COSTS)
    assert "cost" not in plain.section
    unbounded = ev.assess(replace(SPEC, costs=replace(COSTS, max=None)),
                          signals(healthy_track(confusion=CHEAP)), now=NOW)
    assert status_of(unbounded, reasons.COST_HIGH) == ("False", reasons.COST_UNBOUNDED)


REFERENCE = {0.5: 0.0, 0.6: 0.05, 0.7: 0.1, 0.8: 0.2, 0.9: 0.4, 0.95: 0.6, 0.99: 0.85, 1.0: 1.0}
LESS_SURE = {0.5: 0.0, 0.6: 0.2, 0.7: 0.4, 0.8: 0.6, 0.9: 0.8, 0.95: 0.9, 0.99: 0.97, 1.0: 1.0}


def test_a_confidence_shift_names_its_direction_and_size() -> None:
    track = healthy_track(confidence_reference=REFERENCE, confidence_reference_rows=1500.0,
                          confidence_below=LESS_SURE)
    verdict = ev.assess(SPEC, signals(track), now=NOW, version="1")
    assert status_of(verdict, reasons.CONFIDENCE_SHIFT) == ("True", reasons.CONFIDENCE_SHIFTED)
    said = message(verdict, reasons.CONFIDENCE_SHIFT)
    shift = verdict.section["confidence"]["shift"]
    assert shift["direction"] == "down" and shift["liveMean"] < shift["referenceMean"]
    assert shift["referenceRows"] == 1500 and shift["df"] == 6 and shift["pValue"] < 0.001
    assert said.startswith(f"confidence down: binned mean {shift['liveMean']:.3f} against "
                           f"{shift['referenceMean']:.3f} on 1500 holdout rows, PSI ")
    assert said.endswith("), 2000 predictions of version 1 over 1h")
    assert verdict.section["state"] == ev.STATE_DEGRADED


def test_the_same_confidence_is_steady_and_a_surer_one_shifts_up() -> None:
    same = healthy_track(confidence_reference=REFERENCE, confidence_reference_rows=1500.0,
                         confidence_below=REFERENCE)
    steady = ev.assess(SPEC, signals(same), now=NOW)
    assert status_of(steady, reasons.CONFIDENCE_SHIFT) == ("False", reasons.CONFIDENCE_STEADY)
    assert message(steady, reasons.CONFIDENCE_SHIFT).startswith(
        "confidence as on the holdout: binned mean")
    assert steady.section["confidence"]["shift"]["alpha"] == 0.001
    surer = {**REFERENCE, 0.9: 0.1, 0.95: 0.15, 0.99: 0.3}
    up = ev.assess(SPEC, signals(healthy_track(
        confidence_reference=REFERENCE, confidence_reference_rows=1500.0,
        confidence_below=surer)), now=NOW)
    assert up.section["confidence"]["shift"]["direction"] == "up"
    assert message(up, reasons.CONFIDENCE_SHIFT).startswith("confidence up:")


def test_a_confidence_shift_needs_samples_and_a_reference() -> None:
    quiet = healthy_track(predictions=100.0, confidence_reference=REFERENCE)
    verdict = ev.assess(SPEC, signals(quiet), now=NOW)
    assert status_of(verdict, reasons.CONFIDENCE_SHIFT) == ("Unknown", reasons.INSUFFICIENT_DATA)
    old = ev.assess(SPEC, signals(healthy_track()), now=NOW)
    assert status_of(old, reasons.CONFIDENCE_SHIFT) == (
        "Unknown", reasons.NO_CONFIDENCE_REFERENCE)
    assert old.section["state"] == ev.STATE_HEALTHY  # optional: not the whole verdict
