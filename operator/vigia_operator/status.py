"""Pure status calculation: from a ModelDeployment and its observed Deployment to status."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from vigia_operator import conditions as c
from vigia_operator import resource as r
from vigia_operator.spec import ModelDeploymentView

Obj = dict[str, Any]

# The Deployment controller's Progressing reason once a rollout has finished.
NEW_REPLICA_SET_AVAILABLE = "NewReplicaSetAvailable"


@dataclass(frozen=True)
class Rollout:
    """What a Deployment tells about its rollout, as `kubectl rollout status` reads it."""

    desired: int
    updated: int
    total: int
    ready: int
    available: int
    current: bool  # the controller has seen the latest spec
    finished_once: bool  # its Progressing reason says the new ReplicaSet became available
    failure: tuple[str, str] | None  # (reason, message) when the controller gave up
    uri: str | None  # the model its pod template serves

    @property
    def complete(self) -> bool:
        return (
            self.current
            and self.updated == self.desired
            and self.total == self.updated
            and self.available >= self.desired
        )


def observe(deployment: Mapping[str, Any]) -> Rollout:
    spec = deployment.get("spec") or {}
    status = deployment.get("status") or {}
    meta = deployment.get("metadata") or {}
    template_meta = (spec.get("template") or {}).get("metadata") or {}
    conds = status.get("conditions") or []
    progressing = c.find(conds, "Progressing") or {}
    failure = c.find(conds, "ReplicaFailure")
    failed: tuple[str, str] | None = None
    if failure is not None and failure.get("status") == "True":
        failed = (c.REASON_REPLICA_FAILURE, str(failure.get("message", "")))
    elif progressing.get("status") == "False" and progressing.get("reason") == (
        c.REASON_PROGRESS_DEADLINE
    ):
        failed = (c.REASON_PROGRESS_DEADLINE, str(progressing.get("message", "")))
    return Rollout(
        desired=int(spec.get("replicas", 1)),
        updated=int(status.get("updatedReplicas", 0)),
        total=int(status.get("replicas", 0)),
        ready=int(status.get("readyReplicas", 0)),
        available=int(status.get("availableReplicas", 0)),
        current=int(status.get("observedGeneration", 0)) >= int(meta.get("generation", 1)),
        finished_once=progressing.get("reason") == NEW_REPLICA_SET_AVAILABLE,
        failure=failed,
        uri=(template_meta.get("annotations") or {}).get(r.ANNOTATION_MODEL_URI),
    )


def serving_status(
    md: ModelDeploymentView,
    deployment: Mapping[str, Any] | None,
    previous: Mapping[str, Any],
    *,
    now: str,
    handled: bool,
) -> Obj:
    """Status fields owned by the serving reconciler.

    ``handled`` says whether md's current generation has been applied; only then does
    observedGeneration move forward.
    """
    name = r.deployment_name(md.name, "stable")
    if deployment is None:
        phase, updates = c.PHASE_PENDING, _pending(name)
        ready_replicas = 0
    else:
        rollout = observe(deployment)
        phase, updates = _judge(md, name, rollout)
        ready_replicas = rollout.ready
    generation = md.generation if handled else previous.get("observedGeneration")
    status: Obj = {
        "phase": phase,
        "conditions": c.merge(
            previous.get("conditions") or [], updates, now=now,
            generation=generation if isinstance(generation, int) else None,
        ),
        "serving": {
            "service": r.service_name(md.name),
            "url": f"http://{r.service_name(md.name)}.{md.namespace}.svc:{r.SERVICE_PORT}",
            "replicas": md.serving.replicas,
            "readyReplicas": ready_replicas,
        },
    }
    if isinstance(generation, int):
        status["observedGeneration"] = generation
    if phase == c.PHASE_READY:
        status["stable"] = _stable(md, previous.get("stable") or {}, now)
    return status


def failed_status(generation: int, error: Exception, previous: Mapping[str, Any], now: str) -> Obj:
    """Status of a ModelDeployment whose spec the operator cannot act on."""
    updates = [
        c.Condition(c.READY, "False", c.REASON_INVALID_SPEC, str(error)),
        c.Condition(c.PROGRESSING, "False", c.REASON_INVALID_SPEC, "Waiting for a valid spec."),
        c.Condition(c.DEGRADED, "True", c.REASON_INVALID_SPEC, str(error)),
    ]
    return {
        "observedGeneration": generation,
        "phase": c.PHASE_FAILED,
        "conditions": c.merge(
            previous.get("conditions") or [], updates, now=now, generation=generation
        ),
    }


def _pending(name: str) -> list[c.Condition]:
    return [
        c.Condition(c.READY, "False", c.REASON_DEPLOYMENT_PENDING,
                    f"Deployment {name} has not been observed yet."),
        c.Condition(c.PROGRESSING, "True", c.REASON_DEPLOYMENT_PENDING,
                    f"Creating Deployment {name}."),
        c.Condition(c.DEGRADED, "False", c.REASON_HEALTHY, "No failure observed."),
    ]


def _judge(md: ModelDeploymentView, name: str, rollout: Rollout) -> tuple[str, list[c.Condition]]:
    counts = (
        f"{rollout.available}/{rollout.desired} replicas available, "
        f"{rollout.updated}/{rollout.desired} updated"
    )
    serves_spec = rollout.uri == md.model.uri
    if rollout.failure is not None:
        reason, message = rollout.failure
        return c.PHASE_DEGRADED, [
            c.Condition(c.READY, "True" if rollout.complete and serves_spec else "False",
                        reason, f"Deployment {name}: {message} ({counts})."),
            c.Condition(c.PROGRESSING, "False", reason, message),
            c.Condition(c.DEGRADED, "True", reason, f"Deployment {name}: {message} ({counts})."),
        ]
    if rollout.complete and serves_spec:
        return c.PHASE_READY, [
            c.Condition(c.READY, "True", c.REASON_AVAILABLE,
                        f"Version {md.model.version} is serving: {counts}."),
            c.Condition(c.PROGRESSING, "False", c.REASON_ROLLED_OUT,
                        f"Version {md.model.version} is rolled out."),
            c.Condition(c.DEGRADED, "False", c.REASON_HEALTHY, "No failure observed."),
        ]
    if serves_spec and rollout.current and rollout.finished_once:
        # The rollout had finished; replicas were lost since.
        message = f"Deployment {name}: {counts}."
        return c.PHASE_DEGRADED, [
            c.Condition(c.READY, "False", c.REASON_REPLICAS_UNAVAILABLE, message),
            c.Condition(c.PROGRESSING, "False", c.REASON_ROLLED_OUT,
                        f"Version {md.model.version} is rolled out."),
            c.Condition(c.DEGRADED, "True", c.REASON_REPLICAS_UNAVAILABLE, message),
        ]
    message = f"Rolling out version {md.model.version}: {counts}."
    return c.PHASE_PROGRESSING, [
        c.Condition(c.READY, "False", c.REASON_ROLLING_OUT, message),
        c.Condition(c.PROGRESSING, "True", c.REASON_ROLLING_OUT, message),
        c.Condition(c.DEGRADED, "False", c.REASON_HEALTHY, "No failure observed."),
    ]


def _stable(md: ModelDeploymentView, previous: Mapping[str, Any], now: str) -> Obj:
    stable: Obj = {
        "version": md.model.version,
        "uri": md.model.uri,
        "since": previous.get("since", now) if previous.get("uri") == md.model.uri else now,
    }
    if md.model.digest is not None:
        stable["digest"] = md.model.digest
    return stable


@dataclass(frozen=True)
class Event:
    type: str  # Normal | Warning
    reason: str
    message: str


def events_for(previous: Mapping[str, Any], current: Mapping[str, Any]) -> list[Event]:
    """Events announcing condition changes between two statuses."""
    before = previous.get("conditions") or []
    after = current.get("conditions") or []
    events: list[Event] = []
    for cond in after:
        old = c.find(before, cond["type"])
        if old is not None and old.get("status") == cond["status"]:
            continue
        if cond["type"] == c.READY and cond["status"] == "True":
            events.append(Event("Normal", c.READY, cond["message"]))
        elif cond["type"] == c.READY and old is not None and old.get("status") == "True":
            events.append(Event("Warning", "NotReady", cond["message"]))
        elif cond["type"] == c.DEGRADED and cond["status"] == "True":
            events.append(Event("Warning", cond["reason"], cond["message"]))
    return events
