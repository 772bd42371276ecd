"""Reconciles that would change nothing, recognised before deciding.

Both decisions are pure functions of the observation (``engine.decide``): the
ModelDeployment as read, the status it decides on, its children, the tick's signals, and
the clock. When everything but the clock equals what an earlier reconcile saw, and that
reconcile did nothing (no apply, no status write, no Event, no Job, no command cleared),
deciding again does nothing again, until the clock reaches a moment a decision waits for.
So the engine remembers, per object, the inputs of its last reconcile that did nothing and
until when that stays true (``quiet_until``), and returns at once on the same inputs. Any
change moves a resourceVersion (the object's or a child's) or brings new signal values, so
inputs once left never come back.

What the clock decides, and where it is read from:
- a rollout in flight (``status.canary``: pauses, analyses) and a rollout command: never
  skipped;
- the retraining schedule's next run (``status.retraining.nextScheduled``), the cooldown's
  end (``cooldownUntil``), the grace a just-created Job has to reach the watch;
- monitoring is judged only on ticks that carry its signals, and these carry the time they
  were collected at: never the same inputs twice.
Past ``QUIET_SECONDS`` a full reconcile runs anyway: a safety net for a time-driven
decision this list would miss, at a cost of one reconcile per object every few minutes.

A monitoring tick brings new signals to every model, so it decides every status again;
but without a rollout in flight the signals decide no child, so the children that quiet
reconcile decided on the same object, status and children are taken as they are (comparing
the desired children with the observed ones was a third of a reconcile's time).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from vigia_operator.core.clock import parse_time
from vigia_operator.core.objects import ChildKey
from vigia_operator.decide.retraining.state import RetrainingStatus
from vigia_operator.engine.decide import ChildrenDecision, Observation
from vigia_operator.engine.observed import Seen
from vigia_operator.status.retraining import WATCH_GRACE_SECONDS
from vigia_operator.view.rollout import COMMAND_ANNOTATION

QUIET_SECONDS: Final = 600.0
DIGEST_BYTES: Final = 32


@dataclass(frozen=True)
class Inputs:
    """What a reconcile decides on, but the clock."""

    body: bytes  # digest of the ModelDeployment as read (spec, metadata, the watch's status)
    status: bytes  # digest of the status decided on (our own last write while the watch lags)
    children: Mapping[ChildKey, Seen]
    signals: tuple[Mapping[str, Any], str | None] | None  # values and error, not the stamp
    tick: bool  # retraining decides on ticks only


def inputs_of(seen: Observation) -> Inputs:
    signals = None if seen.signals is None else (dict(seen.signals.values), seen.signals.error)
    return Inputs(_digest(seen.body), _digest(seen.status), dict(seen.children), signals,
                  seen.tick)


def quiet_until(seen: Observation) -> datetime | None:
    """Until when the same inputs decide nothing again; None: the clock may decide at any
    moment (a rollout in flight, a command to consume, a finished Job's pods read)."""
    annotations = (seen.body.get("metadata") or {}).get("annotations") or {}
    if seen.status.get("canary") or COMMAND_ANNOTATION in annotations or seen.job_pods:
        return None
    retraining = RetrainingStatus.from_status(seen.status.get("retraining"))
    moments = [parse_time(retraining.next_scheduled), parse_time(retraining.cooldown_until)]
    if retraining.awaiting_result and retraining.last_trigger is not None:
        started = parse_time(retraining.last_trigger.at)
        moments.append(None if started is None
                       else started + timedelta(seconds=WATCH_GRACE_SECONDS))
    latest = seen.now + timedelta(seconds=QUIET_SECONDS)
    return min([m for m in moments if m is not None and m > seen.now] + [latest])


@dataclass(frozen=True)
class _Quiet:
    inputs: Inputs
    until: datetime
    children: ChildrenDecision | None  # kept for ticks only: what a monitoring tick reuses


class Unchanged:
    """(uid, tick) -> the inputs of its last reconcile that did nothing, until when they
    hold, and (a tick's) the children it decided. A tick's and a watch event's reconciles
    are remembered apart: only a tick decides retraining, and one seldom stands for the
    other."""

    def __init__(self) -> None:
        self._quiet: dict[tuple[str, bool], _Quiet] = {}

    def same(self, uid: str, inputs: Inputs, now: datetime) -> bool:
        """Whether a reconcile on ``inputs`` at ``now`` would do nothing."""
        quiet = self._quiet.get((uid, inputs.tick))
        return quiet is not None and now < quiet.until and quiet.inputs == inputs

    def children(self, uid: str, inputs: Inputs, now: datetime) -> ChildrenDecision | None:
        """The children decided on the same object, status and children by a reconcile
        that did nothing, whatever its signals: without a rollout in flight (else nothing
        is remembered) the signals decide no child, so only the status is decided again."""
        quiet = self._quiet.get((uid, True))
        if quiet is not None and now < quiet.until and (
                quiet.inputs.body, quiet.inputs.status, quiet.inputs.children) == (
                inputs.body, inputs.status, inputs.children):
            return quiet.children
        return None

    def remember(self, uid: str, inputs: Inputs, until: datetime | None,
                 children: ChildrenDecision) -> None:
        """``until``: None when the reconcile on ``inputs`` did something, or the clock may
        decide at any moment."""
        if until is None:
            self._quiet.pop((uid, inputs.tick), None)
        else:
            self._quiet[(uid, inputs.tick)] = _Quiet(inputs, until,
                                                     children if inputs.tick else None)

    def forget(self, uid: str) -> None:
        for tick in (False, True):
            self._quiet.pop((uid, tick), None)


def _digest(obj: Mapping[str, Any]) -> bytes:
    """What to compare with later, taken now (the store's bodies may be changed in place),
    and small (a copy of each object and status was 10 KiB per object)."""
    text = json.dumps(obj, separators=(",", ":"), default=str).encode()
    return hashlib.blake2b(text, digest_size=DIGEST_BYTES).digest()
