"""Status conditions, Kubernetes-style: names, reasons, and how a list of them is updated."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

# Condition types.
READY: Final = "Ready"
PROGRESSING: Final = "Progressing"
DEGRADED: Final = "Degraded"

# Reasons (CamelCase, stable: tools may match on them).
REASON_AVAILABLE: Final = "Available"
REASON_DEPLOYMENT_PENDING: Final = "DeploymentPending"
REASON_ROLLING_OUT: Final = "RollingOut"
REASON_ROLLED_OUT: Final = "RolledOut"
REASON_REPLICAS_UNAVAILABLE: Final = "ReplicasUnavailable"
REASON_PROGRESS_DEADLINE: Final = "ProgressDeadlineExceeded"
REASON_REPLICA_FAILURE: Final = "ReplicaFailure"
REASON_HEALTHY: Final = "Healthy"
REASON_INVALID_SPEC: Final = "InvalidSpec"

# Phases: one word for `kubectl get`.
PHASE_PENDING: Final = "Pending"
PHASE_PROGRESSING: Final = "Progressing"
PHASE_READY: Final = "Ready"
PHASE_DEGRADED: Final = "Degraded"
PHASE_FAILED: Final = "Failed"

Status = Literal["True", "False", "Unknown"]


@dataclass(frozen=True)
class Condition:
    type: str
    status: Status
    reason: str
    message: str


def merge(
    previous: Iterable[Mapping[str, Any]],
    updates: Iterable[Condition],
    *,
    now: str,
    generation: int | None,
) -> list[dict[str, Any]]:
    """The condition list after updates.

    lastTransitionTime changes only when a condition's status changes; conditions of
    other types (set by other parts of the operator) are kept as they are.
    """
    merged = {c["type"]: dict(c) for c in previous if "type" in c}
    for update in updates:
        old = merged.get(update.type)
        changed = old is None or old.get("status") != update.status
        entry: dict[str, Any] = {
            "type": update.type,
            "status": update.status,
            "reason": update.reason,
            "message": update.message,
            "lastTransitionTime": now if changed or old is None
            else old.get("lastTransitionTime", now),
        }
        if generation is not None:
            entry["observedGeneration"] = generation
        elif old is not None and "observedGeneration" in old:
            entry["observedGeneration"] = old["observedGeneration"]
        merged[update.type] = entry
    return list(merged.values())


def find(conditions: Iterable[Mapping[str, Any]], type_: str) -> Mapping[str, Any] | None:
    return next((c for c in conditions if c.get("type") == type_), None)


def is_true(conditions: Iterable[Mapping[str, Any]], type_: str) -> bool:
    found = find(conditions, type_)
    return found is not None and found.get("status") == "True"
