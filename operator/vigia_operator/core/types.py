"""The shared data types every layer speaks: which object, what was measured, what is said.

Leaves: nothing here imports another part of the operator.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal, Protocol

from vigia_operator.core.reasons import ConditionStatus

Obj = dict[str, Any]
ChildKey = tuple[str, str]  # (kind, name) of a child object
EventType = Literal["Normal", "Warning"]


class Named(Protocol):
    @property
    def namespace(self) -> str: ...

    @property
    def name(self) -> str: ...


@dataclass(frozen=True, order=True)
class ModelRef:
    """One ModelDeployment: its namespace and name."""

    namespace: str
    name: str

    @classmethod
    def of(cls, md: Named) -> ModelRef:
        return cls(md.namespace, md.name)

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class Event:
    """A Kubernetes Event on the ModelDeployment: a decision or a change, with its numbers."""

    type: EventType
    reason: str  # from the catalogue, core.reasons
    message: str


@dataclass(frozen=True)
class Condition:
    """A status condition as a part of the operator states it; the writer merges it."""

    type: str
    status: ConditionStatus
    reason: str
    message: str


@dataclass(frozen=True)
class Signals:
    """One model's measurements from one tick's collection.

    ``values`` is filed by the providers under their keys (``SignalKey``); ``error`` says
    the collection failed (e.g. Prometheus down): an explicit state, never a pass.
    """

    collected_at: str
    values: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None


# Where the providers file their measurements in ``Signals.values`` (the readers' keys).
MONITORING: Final = "monitoring"  # core measurements' ModelSignals (None: nothing measured)
MONITORING_AT: Final = "monitoringCollectedAt"  # Unix time the monitoring queries ran at
CANARY: Final = "canary"  # the canary queries' TrackMeasurements by (track, version)
CANARY_ERROR: Final = "canary_error"  # why the canary measurements are missing
CONDITIONS: Final = "conditions"  # trigger conditions a provider hands directly (tests)
