"""The rollout state machine: (spec, status, analysis, command, now) -> RolloutDecision. Pure.

A new target version starts a canary at the first step. In each step the canary waits for
its pods, then for the step's pause and a passing analysis taken in the step; then the
next step, and after the last one promotion: the stable Deployment rolls to the canary's
version and the canary is removed once it has. failureLimit failed analyses roll back:
the stable grows back first and the canary gives up pods only as the stable has them
ready. A different target mid-rollout replaces the canary and restarts the analysis.

State lives in the returned CanaryState (status.canary), never in memory.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from vigia_operator.core import reasons
from vigia_operator.core.clock import DUE_SHARE, iso
from vigia_operator.core.text import one_sentence
from vigia_operator.core.types import Event, EventType
from vigia_operator.decide.rollout.model import (
    ABORTED,
    FAIL,
    INCONCLUSIVE,
    PASS,
    PROGRESSING,
    PROMOTED,
    PROMOTING,
    ROLLED_BACK,
    ROLLING_BACK,
    SUPERSEDED,
    Analysis,
    CanaryState,
    Ending,
    HistoryEntry,
    Observed,
    RolloutDecision,
    Version,
)
from vigia_operator.decide.rollout.traffic import achieved_weight, canary_pods, shrink
from vigia_operator.view.rollout import COMMAND_ANNOTATION, COMMANDS, RolloutSpec

ONE_SHOT = ("promote", "abort", "resume")


@dataclass(frozen=True)
class Inputs:
    spec: RolloutSpec
    replicas: int  # spec.serving.replicas, or the autoscaler's current stable count
    target: Version  # spec.model
    stable: Version | None  # status.stable; None before the first version is Ready
    canary: CanaryState | None  # status.canary
    last_ended: HistoryEntry | None  # newest status.history entry
    analysis: Analysis | None  # this tick's canary analysis, None when none was taken
    command: str | None  # the vigia.dev/rollout annotation
    observed: Observed
    now: datetime
    ceiling: int | None = None  # maxReplicas when autoscaled: the canary follows the stable


def decide(i: Inputs) -> RolloutDecision:
    if i.stable is None:
        return RolloutDecision(
            stable=i.target, stable_serving=i.target, canary=None, reason=reasons.STABLE,
            message=f"Version {i.target.version} is the first: served directly, with nothing "
            "to compare it with.",
            clear_command=i.command in ONE_SHOT,
        )
    if i.command is not None and i.command not in COMMANDS:
        return _with_event(decide(replace(i, command=None)), Event(
            "Warning", reasons.COMMAND_UNKNOWN,
            f"{COMMAND_ANNOTATION}={i.command} is not a command (use one of "
            f"{', '.join(COMMANDS)}) and was removed.",
        ), clear=True)
    if i.canary is None:
        return _idle(i, i.stable)
    if i.canary.phase == PROMOTING:
        return _promoting(i, i.stable, i.canary)
    if i.canary.phase == ROLLING_BACK:
        return _rolling_back(i, i.stable, i.canary)
    return _progressing(i, i.stable, i.canary)


def _idle(i: Inputs, stable: Version) -> RolloutDecision:
    if i.command in ONE_SHOT:
        return _with_event(replace_command(i, None), Event(
            "Normal", reasons.COMMAND_IGNORED,
            f"{COMMAND_ANNOTATION}={i.command}: no canary in flight (stable {stable.version}).",
        ), clear=True)
    if i.target == stable:
        return RolloutDecision(stable, stable, None, reasons.STABLE,
                        f"Version {stable.version} is stable; no rollout in flight.")
    ended = i.last_ended
    if ended is not None and ended.version == i.target and ended.outcome in (ROLLED_BACK, ABORTED):
        return RolloutDecision(
            stable, stable, None, reasons.VERSION_REJECTED,
            # Why it ended is status.history's first entry.
            one_sentence(
                f"spec.model names version {i.target.version}, {ended.outcome} at "
                f"{iso(ended.at)}, so stable {stable.version} keeps serving; set spec.model "
                "to another version to roll out again."),
        )
    return _start(i, stable)


def replace_command(i: Inputs, command: str | None) -> RolloutDecision:
    return decide(replace(i, command=command))


def _start(i: Inputs, stable: Version, ended: tuple[HistoryEntry, ...] = (),
           events: tuple[Event, ...] = ()) -> RolloutDecision:
    steps = i.spec.steps
    if not steps:
        canary = _new_canary(i, weight=0, replicas=0)
        return _promote(i, stable, canary, "spec.rollout.steps is empty: no canary steps",
                        manual=False, ended=ended, events=events)
    weight = steps[0].weight
    pods = canary_pods(weight, i.replicas, i.spec.router, i.ceiling)
    canary = _new_canary(i, weight, pods)
    message = one_sentence(
        f"Canary {i.target.version} started beside stable {stable.version}: step 1/"
        f"{len(steps)} at {weight}% ({pods} canary pod(s) beside {i.replicas} stable), "
        f"analysis every {_span(i.spec.analysis.interval_s)}, "
        f"{i.spec.analysis.failure_limit} failed analyses roll back."
    )
    return RolloutDecision(
        stable, stable, replace(canary, message=message), reasons.ROLLOUT_STARTED, message,
        ended=ended, events=(*events, Event("Normal", reasons.ROLLOUT_STARTED, message)),
    )


def _new_canary(i: Inputs, weight: int, replicas: int) -> CanaryState:
    return CanaryState(
        version=i.target, phase=PROGRESSING, step=0, weight=weight, achieved_weight=0,
        canary_replicas=replicas, started_at=i.now, step_started_at=None, failures=0,
        paused=i.command == "pause", last_analysis=None, message="",
    )


def _progressing(i: Inputs, stable: Version, canary: CanaryState) -> RolloutDecision:
    if i.target != canary.version:
        return _superseded(i, stable, canary)
    if i.command == "abort":
        return _roll_back(i, stable, canary, ABORTED,
                          f"aborted by {COMMAND_ANNOTATION}=abort", clear=True)
    if i.command == "promote":
        return _promote(i, stable, canary, f"promoted by {COMMAND_ANNOTATION}=promote",
                        manual=True)
    events: list[Event] = []
    paused = i.command == "pause"
    if paused != canary.paused:
        events.append(_pause_event(canary, paused))
    canary = replace(canary, paused=paused)
    ready = _canary_ready(i.observed, canary)
    if i.observed.settled:  # otherwise the last measured split stands
        canary = replace(canary, achieved_weight=achieved_weight(
            i.spec.router, canary.weight, ready, i.observed.stable_ready))
    if ready == 0:
        message = (f"Canary {canary.version.version} {_at_step(i, canary)}: waiting for canary "
                   f"pods (0 of {canary.canary_replicas} ready).")
        return RolloutDecision(stable, stable, replace(canary, message=message),
                        reasons.WAITING_FOR_PODS, message, events=tuple(events),
                        clear_command=i.command == "resume")
    if canary.step_started_at is None:
        canary = replace(canary, step_started_at=i.now)
    canary, analysis_events = _analyse(i, canary)
    events.extend(analysis_events)
    limit = i.spec.analysis.failure_limit
    if canary.failures >= limit and canary.last_analysis is not None:
        why = (f"{canary.failures} failed analyses (failureLimit {limit}), last "
               f"{canary.last_analysis.message}")
        return _roll_back(i, stable, canary, ROLLED_BACK, why, events=tuple(events))
    if not canary.paused and _step_done(i, canary):
        return _advance(i, stable, canary, tuple(events))
    reason, message = _holding(i, canary, ready)
    return RolloutDecision(stable, stable, replace(canary, message=message), reason, message,
                    events=tuple(events), clear_command=i.command == "resume")


def _superseded(i: Inputs, stable: Version, canary: CanaryState) -> RolloutDecision:
    if i.target == stable:
        return _roll_back(i, stable, canary, SUPERSEDED,
                          f"spec.model is back to stable {stable.version}")
    message = one_sentence(
        f"Canary {canary.version.version} superseded by {i.target.version} "
        f"{_at_step(i, canary)}; the analysis restarts for the new version.")
    ended = HistoryEntry(canary.version, SUPERSEDED, i.now, message)
    return _start(i, stable, ended=(ended,),
                  events=(Event("Normal", reasons.SUPERSEDED, message),))


def _analyse(i: Inputs, canary: CanaryState) -> tuple[CanaryState, list[Event]]:
    analysis = i.analysis
    if analysis is None or not _due(canary.last_analysis, analysis, i.spec.analysis.interval_s):
        return canary, []
    events: list[Event] = []
    failures = canary.failures
    previous = canary.last_analysis
    if analysis.verdict == FAIL:
        failures += 1
        events.append(Event(
            "Warning", reasons.ANALYSIS_FAILED, one_sentence(
                f"Canary {canary.version.version} analysis failed ({failures} of failureLimit "
                f"{i.spec.analysis.failure_limit}) {_at_step(i, canary)}: {analysis.message}"),
        ))
    elif analysis.verdict == INCONCLUSIVE and (
        previous is None or previous.verdict != INCONCLUSIVE
    ):
        events.append(Event(
            "Normal", reasons.WAITING_FOR_DATA, one_sentence(
                f"Canary {canary.version.version} waiting for data {_at_step(i, canary)}: "
                f"{analysis.message}"),
        ))
    return replace(canary, last_analysis=analysis, failures=failures), events


def _due(previous: Analysis | None, analysis: Analysis, interval_s: float) -> bool:
    if previous is None:
        return True
    return (analysis.at - previous.at).total_seconds() >= interval_s * DUE_SHARE


def _step_done(i: Inputs, canary: CanaryState) -> bool:
    started, analysis = canary.step_started_at, canary.last_analysis
    if started is None or analysis is None:
        return False
    paused_enough = (i.now - started).total_seconds() >= i.spec.steps[canary.step].pause_s
    return paused_enough and analysis.verdict == PASS and analysis.at >= started


def _holding(i: Inputs, canary: CanaryState, ready: int) -> tuple[str, str]:
    head = (f"Canary {canary.version.version} {_at_step(i, canary)} at "
            f"{canary.achieved_weight}% of {canary.weight}% ({ready} pod(s) ready)")
    analysis = canary.last_analysis
    if canary.paused:
        return reasons.ROLLOUT_PAUSED, one_sentence(
            f"{head}; paused by {COMMAND_ANNOTATION}=pause (analyses still run and "
            "failures still roll back).")
    if analysis is not None and analysis.verdict == INCONCLUSIVE:
        return reasons.WAITING_FOR_DATA, one_sentence(
            f"{head}; waiting for data: {analysis.message}")
    # An end time, not a countdown: the message (and so the status) changes with the
    # analyses, not on every tick.
    ends = (canary.step_started_at or i.now) + timedelta(
        seconds=i.spec.steps[canary.step].pause_s)
    pause = f"pause ends at {iso(ends)}" if ends > i.now else "pause over"
    last = f"last {analysis.message}" if analysis else "no analysis yet"
    return reasons.ANALYZING, one_sentence(f"{head}; {pause}; {last}")


def _advance(i: Inputs, stable: Version, canary: CanaryState,
             events: tuple[Event, ...]) -> RolloutDecision:
    analysis = canary.last_analysis
    passed = analysis.message if analysis is not None else "no analysis"
    following = canary.step + 1
    if following >= len(i.spec.steps):
        return _promote(i, stable, canary, f"all steps passed, last {passed}",
                        manual=False, events=events)
    weight = i.spec.steps[following].weight
    pods = canary_pods(weight, i.replicas, i.spec.router, i.ceiling)
    message = one_sentence(
        f"Canary {canary.version.version} to step {following + 1}/{len(i.spec.steps)} at "
        f"{weight}% ({pods} canary pod(s)) after step {canary.step + 1} held "
        f"{canary.achieved_weight}% of {canary.weight}%: {passed}"
    )
    advanced = replace(canary, step=following, weight=weight, canary_replicas=pods,
                       step_started_at=None, message=message)
    return RolloutDecision(stable, stable, advanced, reasons.ROLLOUT_STEP, message,
                    events=(*events, Event("Normal", reasons.ROLLOUT_STEP, message)),
                    clear_command=i.command == "resume")


def _promote(i: Inputs, stable: Version, canary: CanaryState, why: str, *, manual: bool,
             ended: tuple[HistoryEntry, ...] = (),
             events: tuple[Event, ...] = ()) -> RolloutDecision:
    message = one_sentence(
        f"Promoting canary {canary.version.version} over stable {stable.version} after "
        f"{_span((i.now - canary.started_at).total_seconds())} at "
        f"{canary.achieved_weight}% achieved: {why}")
    promoting = replace(canary, phase=PROMOTING, outcome=PROMOTED, paused=False,
                        message=message)
    return RolloutDecision(stable, canary.version, promoting, reasons.PROMOTING, message,
                    ended=ended, events=(*events, Event("Normal", reasons.PROMOTING, message)),
                    clear_command=manual)


def _promoting(i: Inputs, stable: Version, canary: CanaryState) -> RolloutDecision:
    ignored = _ignore_command(i, canary)
    obs = i.observed
    if obs.stable_serves == canary.version.uri and obs.stable_complete:
        message = one_sentence(
            f"Canary {canary.version.version} promoted: it now serves all stable "
            f"traffic ({obs.stable_ready}/{i.replicas} pods ready), replacing "
            f"{stable.version}, {_span((i.now - canary.started_at).total_seconds())} "
            f"after the canary started; {canary.failures} failed analyses.")
        entry = HistoryEntry(canary.version, PROMOTED, i.now, canary.message)
        return RolloutDecision(canary.version, canary.version, None, reasons.PROMOTED, message,
                        ended=(entry,), events=(*ignored, Event("Normal", reasons.PROMOTED,
                                                                 message)),
                        clear_command=bool(ignored))
    message = (f"Promoting {canary.version.version}: the stable Deployment rolls to it "
               f"({obs.stable_ready}/{i.replicas} stable pods ready).")
    return RolloutDecision(stable, canary.version, canary, reasons.PROMOTING, message,
                    events=ignored, clear_command=bool(ignored))


def _roll_back(i: Inputs, stable: Version, canary: CanaryState, outcome: Ending, why: str,
               *, clear: bool = False, events: tuple[Event, ...] = ()) -> RolloutDecision:
    # Stable keeps serving throughout; RolledBack says so once the canary is gone.
    message = one_sentence(
        f"Rolling back canary {canary.version.version} {_at_step(i, canary)}: {why}")
    kind: EventType = "Warning" if outcome == ROLLED_BACK else "Normal"
    rolling = replace(canary, phase=ROLLING_BACK, outcome=outcome, paused=False, weight=0,
                      message=message)
    decided = _rolling_back(replace(i, command=None), stable, rolling)
    return replace(decided, events=(*events, Event(kind, reasons.ROLLING_BACK, message),
                                    *decided.events), clear_command=clear)


def _rolling_back(i: Inputs, stable: Version, canary: CanaryState) -> RolloutDecision:
    ignored = _ignore_command(i, canary)
    obs = i.observed
    stable_back = obs.stable_serves == stable.uri
    stable_ready = obs.stable_ready if stable_back else 0
    keep = shrink(canary.canary_replicas, i.replicas, stable_ready)
    achieved = achieved_weight(i.spec.router, 0, obs.canary_ready, stable_ready)
    outcome: Ending = canary.outcome or ROLLED_BACK
    if keep == 0 and obs.canary_pods == 0 and stable_back and obs.stable_complete:
        reason = {ROLLED_BACK: reasons.ROLLED_BACK, ABORTED: reasons.ABORTED}.get(
            outcome, reasons.SUPERSEDED)
        message = one_sentence(
            f"Canary {canary.version.version} removed ({outcome}); stable "
            f"{stable.version} serves all traffic ({obs.stable_ready}/{i.replicas} "
            "pods ready).")
        entry = HistoryEntry(canary.version, outcome, i.now, canary.message)
        kind: EventType = "Warning" if outcome == ROLLED_BACK else "Normal"
        return RolloutDecision(stable, stable, None, reason, message, ended=(entry,),
                        events=(*ignored, Event(kind, reason, message)),
                        clear_command=bool(ignored))
    message = (f"Rolling back {canary.version.version}: {keep} canary pod(s) kept until the "
               f"stable has {i.replicas} ready ({stable_ready} now); canary gets {achieved}%.")
    shrunk = replace(canary, canary_replicas=keep, achieved_weight=achieved)
    return RolloutDecision(stable, stable, shrunk, reasons.ROLLING_BACK, message, events=ignored,
                    clear_command=bool(ignored))


def _ignore_command(i: Inputs, canary: CanaryState) -> tuple[Event, ...]:
    if i.command not in ONE_SHOT:
        return ()
    return (Event("Normal", reasons.COMMAND_IGNORED,
                  f"{COMMAND_ANNOTATION}={i.command}: canary {canary.version.version} is "
                  f"already {canary.phase}."),)


def _canary_ready(observed: Observed, canary: CanaryState) -> int:
    """Ready canary pods of this canary's version (a replaced canary's pods do not count)."""
    return observed.canary_ready if observed.canary_serves == canary.version.uri else 0


def _pause_event(canary: CanaryState, paused: bool) -> Event:
    if paused:
        return Event("Normal", reasons.ROLLOUT_PAUSED,
                     f"Canary {canary.version.version} paused at step {canary.step + 1} "
                     f"({canary.weight}%) by {COMMAND_ANNOTATION}=pause.")
    return Event("Normal", reasons.ROLLOUT_RESUMED,
                 f"Canary {canary.version.version} resumed at step {canary.step + 1} "
                 f"({canary.weight}%).")


def _with_event(decision: RolloutDecision, event: Event, *, clear: bool) -> RolloutDecision:
    return replace(decision, events=(event, *decision.events),
                   clear_command=decision.clear_command or clear)


def _at_step(i: Inputs, canary: CanaryState) -> str:
    return f"at step {canary.step + 1}/{len(i.spec.steps)}"


def _span(seconds: float) -> str:
    seconds = max(0, round(seconds))
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h{minutes}m"
    return f"{minutes}m{secs}s" if minutes else f"{secs}s"
