"""Typed status: each part of the operator computes its section; the writer merges them.

A section is one top-level field of ``status`` (``serving``; ``stable``, ``canary`` and
``history``, the rollout's; ``monitoring``; ``retraining``) plus the conditions that part
of the operator owns; each has one owner, the module of its name. A section computer is a
pure function of a ``SectionInput``; ``engine.decide.decide_status`` runs them after the
applies and the writer merges what they return into one status write. Adding a section
is local: a module with its computer, a line in ``decide_status``, its conditions and
reasons in the catalogue (``core.reasons``), optionally its Event rule in
``status.events``, its fields in the CRD's status schema.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from vigia_operator.core.types import ChildKey, Condition, Signals

if TYPE_CHECKING:
    from vigia_operator.decide.rollout.step import RolloutStep
    from vigia_operator.view import ModelDeploymentView

Obj = dict[str, Any]


@dataclass(frozen=True)
class SectionUpdate:
    """What one part of the operator says about the object.

    ``value`` replaces ``status.<name>`` (None: leave that field as it is; ``remove``:
    delete it); ``conditions`` are merged into ``status.conditions`` by type, other parts'
    conditions are kept.
    """

    name: str
    value: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None
    conditions: tuple[Condition, ...] = ()
    remove: bool = False


@dataclass(frozen=True)
class StatusUpdate:
    """Everything one reconcile says about status, written at once by the writer."""

    sections: tuple[SectionUpdate, ...]
    # The generation these sections were computed for; None leaves observedGeneration.
    observed_generation: int | None = None
    # Condition types the operator acts on by itself (a retraining trigger): their
    # transitions are Normal Events (status.events).
    answered: frozenset[str] = frozenset()


@dataclass(frozen=True)
class SectionInput:
    """What a section computer may look at: all pure data, no client."""

    md: ModelDeploymentView
    observed: Mapping[ChildKey, Mapping[str, Any]]  # children after this reconcile's applies
    previous: Mapping[str, Any]  # the status before this reconcile
    signals: Signals | None  # this tick's measurements; None outside a tick
    now: datetime  # the reconcile's one clock reading
    # Fields of children set by someone else that the operator does not set (not restored).
    hand_edits: Mapping[ChildKey, tuple[str, ...]] = field(default_factory=dict)
    rollout: RolloutStep | None = None  # this reconcile's rollout decision
