"""Every transition of the rollout state machine."""

from __future__ import annotations

from dataclasses import replace

from vigia_operator.core import reasons
from vigia_operator.decide.rollout.machine import decide
from vigia_operator.decide.rollout.model import HistoryEntry, Observed, Verdict
from vigia_operator.decide.rollout.state import canary_from_status, canary_to_status
from vigia_operator.view.rollout import parse_rollout

from tests.unit.operator.decide.rollout.helpers import (
    V1,
    V2,
    V3,
    analysis,
    at,
    decide_with,
    inputs,
    measured_analysis,
    observed,
    rollout_spec,
    started,
)

READY = observed(stable_ready=3, canary_ready=1)


def _reasons(decision) -> list[str]:
    return [e.reason for e in decision.events]


# --- no rollout in flight ------------------------------------------------------------------


def test_first_version_is_served_directly() -> None:
    d = decide(inputs(stable=None, command="promote"))
    assert (d.stable, d.stable_serving, d.canary) == (V2, V2, None)
    assert d.reason == reasons.STABLE and d.clear_command


def test_target_equal_to_stable_means_no_rollout() -> None:
    d = decide(inputs(target=V1))
    assert d.canary is None and d.stable == V1 and d.events == ()


def test_new_version_starts_a_canary_at_the_first_step() -> None:
    d = decide(inputs())
    assert d.canary is not None
    assert (d.canary.version, d.canary.step, d.canary.weight) == (V2, 0, 10)
    assert d.canary.canary_replicas == 1  # 10% of 4 rounds to 0: at least one pod
    assert d.canary.failures == 0 and d.canary.last_analysis is None
    assert d.stable_serving == V1 and d.stable == V1
    assert _reasons(d) == [reasons.ROLLOUT_STARTED]
    assert "step 1/2 at 10%" in d.events[0].message


def test_new_version_with_pause_annotation_starts_paused() -> None:
    d = decide(inputs(command="pause"))
    assert d.canary is not None and d.canary.paused and not d.clear_command


def test_a_rolled_back_version_is_not_started_again() -> None:
    ended = HistoryEntry(V2, "RolledBack", at(-60), "error rate 0.2 > 0.01.")
    d = decide(inputs(last_ended=ended))
    assert d.canary is None and d.reason == reasons.VERSION_REJECTED
    # Why it ended stays in status.history; the message says when and what to do.
    assert "version v2, RolledBack at 2026-11-23T17:59:00Z" in d.message
    relabelled = replace(V2, version="v2-retry")
    assert decide(inputs(last_ended=ended, target=relabelled)).canary is not None


def test_one_shot_command_without_canary_is_ignored_and_cleared() -> None:
    d = decide(inputs(target=V1, command="promote"))
    assert d.canary is None and d.clear_command
    assert _reasons(d) == [reasons.COMMAND_IGNORED]


def test_unknown_command_is_reported_and_cleared() -> None:
    d = decide(inputs(target=V1, command="yolo"))
    assert d.clear_command and _reasons(d) == [reasons.COMMAND_UNKNOWN]
    assert d.events[0].type == "Warning" and "yolo" in d.events[0].message


# --- progressing ---------------------------------------------------------------------------


def test_waits_for_canary_pods_before_the_step_starts() -> None:
    canary = started()
    d = decide(inputs(canary=canary, observed=observed(canary_ready=0, canary_pods=1),
                      now=at(5)))
    assert d.reason == reasons.WAITING_FOR_PODS
    assert d.canary is not None and d.canary.step_started_at is None
    assert d.canary.achieved_weight == 0


def test_pods_of_a_replaced_canary_version_do_not_count() -> None:
    canary = started()
    d = decide(inputs(canary=canary, observed=observed(canary_ready=1, canary_serves=V3.uri)))
    assert d.reason == reasons.WAITING_FOR_PODS


def test_ready_canary_starts_the_step_and_reports_the_achieved_weight() -> None:
    d = decide(inputs(canary=started(), observed=READY, now=at(10)))
    assert d.canary is not None
    assert d.canary.step_started_at == at(10)
    assert d.canary.achieved_weight == 25  # 1 ready canary pod beside 3 stable
    assert d.reason == reasons.ANALYZING


def test_a_stale_deployment_status_keeps_the_last_achieved_weight() -> None:
    # The stable was just scaled down: until its controller observes that, its status
    # counts no pod of the current spec, and 1 canary pod alone would read as 100%.
    running = decide(inputs(canary=started(), observed=READY, now=at(10))).canary
    assert running is not None and running.achieved_weight == 25
    stale = observed(stable_ready=0, canary_ready=1, settled=False, stable_desired=3)
    d = decide(inputs(canary=running, observed=stale, now=at(11)))
    assert d.canary is not None and d.canary.achieved_weight == 25


def _running(now_s: float = 10):
    d = decide(inputs(canary=started(), observed=READY, now=at(now_s)))
    assert d.canary is not None
    return d.canary


def test_pass_before_the_pause_ends_holds_the_step() -> None:
    d = decide(inputs(canary=_running(), observed=READY, now=at(40),
                      analysis=analysis("Pass", at(40))))
    assert d.canary is not None and d.canary.step == 0
    assert d.canary.last_analysis is not None and d.canary.last_analysis.verdict == "Pass"
    assert f"pause ends at {at(70).strftime('%Y-%m-%dT%H:%M:%SZ')}" in d.message
    # The same message on the next tick: nothing to write until the analysis changes.
    again = decide(inputs(canary=d.canary, observed=READY, now=at(45)))
    assert again.message == d.message


def test_pause_over_and_pass_advance_to_the_next_step() -> None:
    d = decide(inputs(canary=_running(), observed=READY, now=at(75),
                      analysis=analysis("Pass", at(75))))
    assert d.canary is not None
    assert (d.canary.step, d.canary.weight, d.canary.canary_replicas) == (1, 50, 2)
    assert d.canary.step_started_at is None  # the new weight is not reached yet
    assert _reasons(d) == [reasons.ROLLOUT_STEP]
    assert "held 25% of 10%" in d.events[0].message and "Pass with 500 samples" in d.message


def test_an_analysis_from_before_the_step_does_not_advance_it() -> None:
    canary = replace(_running(), last_analysis=analysis("Pass", at(5)))
    d = decide(inputs(canary=canary, observed=READY, now=at(80)))
    assert d.canary is not None and d.canary.step == 0


def test_an_analysis_is_counted_once_per_interval() -> None:
    failed = decide(inputs(canary=_running(), observed=READY, now=at(20),
                           analysis=analysis("Fail", at(20))))
    assert failed.canary is not None and failed.canary.failures == 1
    again = decide(inputs(canary=failed.canary, observed=READY, now=at(30),
                          analysis=analysis("Fail", at(30))))
    assert again.canary is not None and again.canary.failures == 1


def test_a_failed_analysis_is_counted_with_its_numbers() -> None:
    spec = rollout_spec()
    bad = measured_analysis(spec, at(20), canary_errors=50)
    d = decide(inputs(spec, canary=_running(), observed=READY, now=at(20), analysis=bad))
    assert d.canary is not None and d.canary.failures == 1 and d.canary.phase == "Progressing"
    assert _reasons(d) == [reasons.ANALYSIS_FAILED]
    assert d.events[0].type == "Warning"
    assert "errorRate 0.1 > 0.01" in d.events[0].message and "1 of failureLimit 2" in (
        d.events[0].message)


def test_failure_limit_failures_roll_back() -> None:
    first = decide(inputs(canary=_running(), observed=READY, now=at(20),
                          analysis=analysis("Fail", at(20))))
    second = decide(inputs(canary=first.canary, observed=READY, now=at(50),
                           analysis=analysis("Fail", at(50))))
    assert second.canary is not None and second.canary.phase == "RollingBack"
    assert second.canary.outcome == "RolledBack" and second.canary.weight == 0
    assert second.stable_serving == V1
    assert _reasons(second) == [reasons.ANALYSIS_FAILED, reasons.ROLLING_BACK]
    assert "2 failed analyses (failureLimit 2)" in second.canary.message


def test_inconclusive_waits_for_data_and_says_so_once() -> None:
    spec = rollout_spec()
    thin = measured_analysis(spec, at(20), requests=12)
    assert thin.verdict == "Inconclusive"
    d = decide(inputs(spec, canary=_running(), observed=READY, now=at(20), analysis=thin))
    assert d.reason == reasons.WAITING_FOR_DATA and _reasons(d) == [reasons.WAITING_FOR_DATA]
    assert "(12/100 canary requests" in d.message
    later = measured_analysis(spec, at(80), requests=40)
    d2 = decide(inputs(spec, canary=d.canary, observed=READY, now=at(80), analysis=later))
    assert d2.reason == reasons.WAITING_FOR_DATA and d2.events == ()
    assert d2.canary is not None and d2.canary.step == 0  # never promoted on no data


def test_no_data_with_policy_pass_advances_and_says_why() -> None:
    spec = rollout_spec(onNoData="Pass")
    thin = measured_analysis(spec, at(75), requests=12)
    d = decide(inputs(spec, canary=_running(), observed=READY, now=at(75), analysis=thin))
    assert d.canary is not None and d.canary.step == 1
    assert "by onNoData=Pass" in d.message


def test_no_data_with_policy_fail_counts_a_failure() -> None:
    spec = rollout_spec(onNoData="Fail")
    thin = measured_analysis(spec, at(20), requests=12)
    d = decide(inputs(spec, canary=_running(), observed=READY, now=at(20), analysis=thin))
    assert d.canary is not None and d.canary.failures == 1


def _at_last_step():
    d = decide(inputs(canary=_running(), observed=READY, now=at(75),
                      analysis=analysis("Pass", at(75))))
    both = observed(stable_ready=2, canary_ready=2)
    d = decide(inputs(canary=d.canary, observed=both, now=at(80)))
    assert d.canary is not None and d.canary.step == 1 and d.canary.achieved_weight == 50
    return d.canary, both


def test_last_step_passed_starts_promotion() -> None:
    canary, both = _at_last_step()
    d = decide(inputs(canary=canary, observed=both, now=at(210),
                      analysis=analysis("Pass", at(210))))
    assert d.canary is not None and d.canary.phase == "Promoting"
    assert d.stable == V1 and d.stable_serving == V2
    assert _reasons(d) == [reasons.PROMOTING]


def _promoting():
    canary, both = _at_last_step()
    d = decide(inputs(canary=canary, observed=both, now=at(210),
                      analysis=analysis("Pass", at(210))))
    assert d.canary is not None
    return d.canary


def test_promotion_waits_for_the_stable_deployment_to_serve_the_canary() -> None:
    rolling = observed(stable_ready=3, stable_serves=V2.uri, stable_complete=False,
                       canary_ready=2)
    d = decide(inputs(canary=_promoting(), observed=rolling, now=at(220)))
    assert d.canary is not None and d.canary.phase == "Promoting" and d.stable == V1
    assert d.stable_serving == V2


def test_promotion_completes_when_the_stable_serves_the_canary() -> None:
    done = observed(stable_ready=4, stable_serves=V2.uri, canary_ready=2)
    d = decide(inputs(canary=_promoting(), observed=done, now=at(240)))
    assert d.canary is None and d.stable == V2 and d.stable_serving == V2
    assert [e.outcome for e in d.ended] == ["Promoted"] and d.ended[0].version == V2
    assert _reasons(d) == [reasons.PROMOTED] and "4m0s after the canary started" in d.message


def test_a_new_version_during_promotion_waits_until_it_ends() -> None:
    d = decide(inputs(canary=_promoting(), target=V3, observed=READY, now=at(220)))
    assert d.canary is not None and d.canary.version == V2 and d.canary.phase == "Promoting"
    done = observed(stable_ready=4, stable_serves=V2.uri, canary_ready=2)
    d = decide(inputs(canary=d.canary, target=V3, observed=done, now=at(240)))
    assert d.canary is None and d.stable == V2
    d = decide(inputs(stable=V2, target=V3, now=at(250)))
    assert d.canary is not None and d.canary.version == V3


def test_commands_during_promotion_are_ignored_and_cleared() -> None:
    d = decide(inputs(canary=_promoting(), command="abort", observed=READY, now=at(220)))
    assert d.canary is not None and d.canary.phase == "Promoting"
    assert d.clear_command and _reasons(d) == [reasons.COMMAND_IGNORED]


def test_no_steps_promote_at_once() -> None:
    spec = parse_rollout({"rollout": {"steps": []}})
    d = decide(inputs(spec))
    assert d.canary is not None and d.canary.phase == "Promoting" and d.stable_serving == V2


# --- rolling back --------------------------------------------------------------------------


def _rolling_back():
    d = decide(inputs(canary=_running(), command="abort", observed=READY, now=at(20)))
    assert d.canary is not None
    return d


def test_abort_rolls_back_and_clears_the_annotation() -> None:
    d = _rolling_back()
    assert d.canary is not None
    assert (d.canary.phase, d.canary.outcome) == ("RollingBack", "Aborted")
    assert d.clear_command and d.stable_serving == V1
    assert _reasons(d) == [reasons.ROLLING_BACK] and d.events[0].type == "Normal"


def test_rollback_keeps_canary_pods_until_the_stable_has_them_ready() -> None:
    d = _rolling_back()
    assert d.canary is not None and d.canary.canary_replicas == 1  # stable 3 of 4 ready
    d = decide(inputs(canary=d.canary, observed=observed(stable_ready=4, canary_ready=1),
                      now=at(30)))
    assert d.canary is not None and d.canary.canary_replicas == 0
    assert d.reason == reasons.ROLLING_BACK


def test_rollback_ends_when_the_canary_pods_are_gone() -> None:
    d = _rolling_back()
    d = decide(inputs(canary=d.canary, observed=observed(stable_ready=4, canary_ready=0),
                      now=at(40)))
    assert d.canary is None and d.stable == V1
    assert [e.outcome for e in d.ended] == ["Aborted"]
    assert _reasons(d) == [reasons.ABORTED]
    assert "aborted by vigia.dev/rollout=abort" in d.ended[0].message


def test_the_canary_shrinks_gradually_with_the_stable_growing_back() -> None:
    spec = rollout_spec()
    canary = replace(_running(), step=1, weight=50, canary_replicas=2)
    d = decide(inputs(spec, canary=canary, command="abort",
                      observed=observed(stable_ready=2, canary_ready=2), now=at(20)))
    kept = [d.canary.canary_replicas if d.canary else 0]
    for ready in (3, 4):
        d = decide(inputs(spec, canary=d.canary,
                          observed=observed(stable_ready=ready, canary_ready=kept[-1]),
                          now=at(30 + ready)))
        kept.append(d.canary.canary_replicas if d.canary else 0)
    assert kept == [2, 1, 0]


def test_target_reverted_to_stable_rolls_back_as_superseded() -> None:
    d = decide(inputs(canary=_running(), target=V1, observed=READY, now=at(20)))
    assert d.canary is not None and d.canary.outcome == "Superseded"
    assert d.canary.phase == "RollingBack"


# --- new version mid-rollout -----------------------------------------------------------------


def test_a_new_version_mid_rollout_restarts_the_analysis() -> None:
    failed = decide(inputs(canary=_running(), observed=READY, now=at(20),
                           analysis=analysis("Fail", at(20))))
    assert failed.canary is not None and failed.canary.failures == 1
    d = decide(inputs(canary=failed.canary, target=V3, observed=READY, now=at(30)))
    assert d.canary is not None and d.canary.version == V3
    assert (d.canary.step, d.canary.failures, d.canary.last_analysis) == (0, 0, None)
    assert d.canary.started_at == at(30) and d.canary.step_started_at is None
    assert [(e.version, e.outcome) for e in d.ended] == [(V2, "Superseded")]
    assert _reasons(d) == [reasons.SUPERSEDED, reasons.ROLLOUT_STARTED]


# --- manual control ------------------------------------------------------------------------


def test_promote_now_skips_the_remaining_steps() -> None:
    d = decide(inputs(canary=_running(), command="promote", observed=READY, now=at(20)))
    assert d.canary is not None and d.canary.phase == "Promoting" and d.stable_serving == V2
    assert d.clear_command and "vigia.dev/rollout=promote" in d.message


def test_pause_holds_the_step_and_resume_releases_it() -> None:
    paused = decide(inputs(canary=_running(), command="pause", observed=READY, now=at(75),
                           analysis=analysis("Pass", at(75))))
    assert paused.canary is not None and paused.canary.paused and paused.canary.step == 0
    assert paused.reason == reasons.ROLLOUT_PAUSED and not paused.clear_command
    assert _reasons(paused) == [reasons.ROLLOUT_PAUSED]
    resumed = decide(inputs(canary=paused.canary, command="resume", observed=READY,
                            now=at(80)))
    assert resumed.canary is not None and not resumed.canary.paused
    assert resumed.canary.step == 1  # the pass taken in the step still counts
    assert resumed.clear_command and reasons.ROLLOUT_RESUMED in _reasons(resumed)


def test_removing_the_pause_annotation_resumes() -> None:
    paused = decide(inputs(canary=_running(), command="pause", observed=READY, now=at(20)))
    d = decide(inputs(canary=paused.canary, observed=READY, now=at(25)))
    assert d.canary is not None and not d.canary.paused and not d.clear_command
    assert _reasons(d) == [reasons.ROLLOUT_RESUMED]


def test_failures_still_roll_back_while_paused() -> None:
    canary = replace(_running(), paused=True, failures=1, last_analysis=analysis("Fail", at(5)))
    d = decide(inputs(canary=canary, command="pause", observed=READY, now=at(40),
                      analysis=analysis("Fail", at(40))))
    assert d.canary is not None and d.canary.phase == "RollingBack"


# --- state lives in status -----------------------------------------------------------------


def test_a_restarted_operator_resumes_at_the_same_step() -> None:
    canary, both = _at_last_step()
    canary = replace(canary, last_analysis=analysis("Fail", at(90)), failures=1,
                     step_started_at=at(85))
    restored = canary_from_status(canary_to_status(canary))
    assert restored == canary
    original = decide(inputs(canary=canary, observed=both, now=at(300),
                             analysis=analysis("Pass", at(300))))
    resumed = decide(inputs(canary=restored, observed=both, now=at(300),
                            analysis=analysis("Pass", at(300))))
    assert resumed == original and resumed.reason == reasons.PROMOTING


def test_a_whole_rollout_from_start_to_promotion() -> None:
    spec = rollout_spec()
    d = decide_with(inputs(spec))
    timeline: list[tuple[int, Observed, Verdict | None]] = [
        (10, READY, None),
        (75, READY, "Pass"),
        (80, observed(stable_ready=2, canary_ready=2), None),
        (210, observed(stable_ready=2, canary_ready=2), "Pass"),
        (240, observed(stable_ready=4, stable_serves=V2.uri, canary_ready=2), None),
    ]
    reasons_seen = []
    for seconds, obs, verdict in timeline:
        a = analysis(verdict, at(seconds)) if verdict else None
        d = decide_with(inputs(spec, canary=d.canary, stable=d.stable, observed=obs,
                               now=at(seconds), analysis=a))
        reasons_seen.append(d.reason)
    assert reasons_seen == [reasons.ANALYZING, reasons.ROLLOUT_STEP, reasons.ANALYZING,
                            reasons.PROMOTING, reasons.PROMOTED]
    assert d.stable == V2 and d.canary is None
