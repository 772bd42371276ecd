"""The serving section (pure): from a ModelDeployment and its observed Deployment to
``status.serving``, ``status.stable`` and the Ready, Progressing and Degraded conditions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from vigia.metrics import TRACK_STABLE
from vigia_operator.children.serving import selector
from vigia_operator.core import reasons
from vigia_operator.core import resources as r
from vigia_operator.core.types import Condition
from vigia_operator.status import conditions as c
from vigia_operator.status.autoscaling import autoscaler_of, autoscaling_status
from vigia_operator.status.sections import SectionInput, SectionUpdate, StatusUpdate
from vigia_operator.view import ModelDeploymentView

Obj = dict[str, Any]

# The Deployment controller's Progressing reason once a rollout has finished.
NEW_REPLICA_SET_AVAILABLE = "NewReplicaSetAvailable"


@dataclass(frozen=True)
class DeploymentProgress:
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


@dataclass(frozen=True)
class ServingStatus:
    """status.serving: where the model is served and how many replicas are ready."""

    service: str
    url: str
    replicas: int
    ready_replicas: int
    hand_edits: tuple[str, ...]  # "Kind name: field" set by someone else, left as is
    selector: str = ""  # of the stable pods: the scale subresource's labelSelectorPath
    autoscaling: Obj | None = None  # the stable track's HPA as observed

    def to_status(self) -> Obj:
        out = {"service": self.service, "url": self.url, "replicas": self.replicas,
               "readyReplicas": self.ready_replicas, "handEdits": list(self.hand_edits),
               "selector": self.selector}
        if self.autoscaling is not None:
            out["autoscaling"] = self.autoscaling
        return out


def observe(deployment: Mapping[str, Any]) -> DeploymentProgress:
    spec = deployment.get("spec") or {}
    status = deployment.get("status") or {}
    meta = deployment.get("metadata") or {}
    template_meta = (spec.get("template") or {}).get("metadata") or {}
    conds = status.get("conditions") or []
    progressing = c.find(conds, "Progressing") or {}
    failure = c.find(conds, "ReplicaFailure")
    failed: tuple[str, str] | None = None
    if failure is not None and failure.get("status") == "True":
        failed = (reasons.REPLICA_FAILURE, str(failure.get("message", "")))
    elif progressing.get("status") == "False" and progressing.get("reason") == (
        reasons.PROGRESS_DEADLINE
    ):
        failed = (reasons.PROGRESS_DEADLINE, str(progressing.get("message", "")))
    return DeploymentProgress(
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


def serving_sections(given: SectionInput) -> tuple[SectionUpdate, ...]:
    """The ``serving`` section and the Ready, Progressing and Degraded conditions."""
    md = given.md
    name = r.deployment_name(md.name, TRACK_STABLE)
    deployment = given.observed.get(("Deployment", name))
    if deployment is None:
        conditions = _pending(name)
        ready_replicas = 0
    else:
        rollout = observe(deployment)
        decision = given.rollout.decision if given.rollout is not None else None
        rolling = decision is not None and decision.canary is not None
        conditions = _judge(md, name, rollout, rolling=rolling)
        if rolling and decision is not None:
            # A canary in flight: the rollout says what is progressing, with its numbers.
            conditions = [c for c in conditions if c.type != reasons.PROGRESSING]
            conditions.append(Condition(reasons.PROGRESSING, "True", decision.reason,
                                        decision.message))
        ready_replicas = rollout.ready
    serving = ServingStatus(
        service=r.service_name(md.name),
        url=f"http://{r.service_name(md.name)}.{md.namespace}.svc:{r.SERVICE_PORT}",
        replicas=md.serving.replicas,
        ready_replicas=ready_replicas,
        hand_edits=tuple(sorted(
            f"{kind} {child}: {path}"
            for (kind, child), paths in given.hand_edits.items() for path in paths
        )),
        selector=",".join(f"{k}={v}" for k, v in selector(md, TRACK_STABLE).items()),
        autoscaling=autoscaling_of(given),
    )
    return (SectionUpdate("serving", serving.to_status(), tuple(conditions)),)



def autoscaling_of(given: SectionInput) -> Obj | None:
    hpa = autoscaler_of(given)
    return None if hpa is None else autoscaling_status(hpa)


def refusal(generation: int, reason: str, message: str) -> StatusUpdate:
    """The status of a ModelDeployment whose spec the operator will not act on."""
    return StatusUpdate(
        (SectionUpdate("serving", None, (
            Condition(reasons.READY, "False", reason, message),
            Condition(reasons.PROGRESSING, "False", reason, "Waiting for a spec it can act on."),
            Condition(reasons.DEGRADED, "True", reason, message),
        )),),
        observed_generation=generation,
    )



def _pending(name: str) -> list[Condition]:
    return [
        Condition(reasons.READY, "False", reasons.DEPLOYMENT_PENDING,
                    f"Deployment {name} has not been observed yet."),
        Condition(reasons.PROGRESSING, "True", reasons.DEPLOYMENT_PENDING,
                    f"Creating Deployment {name}."),
        Condition(reasons.DEGRADED, "False", reasons.HEALTHY, "No failure observed."),
    ]


def _judge(md: ModelDeploymentView, name: str, rollout: DeploymentProgress,
           *, rolling: bool = False) -> list[Condition]:
    """``rolling``: a canary rollout resizes the stable Deployment; fewer available
    replicas than desired then means it is growing back, not that replicas were lost."""
    counts = (
        f"{rollout.available}/{rollout.desired} replicas available, "
        f"{rollout.updated}/{rollout.desired} updated"
    )
    serves_spec = rollout.uri == md.model.uri
    if rollout.failure is not None:
        reason, said = rollout.failure
        message = said.rstrip(".")  # the controller's sentence, inside ours
        return [
            Condition(reasons.READY, "True" if rollout.complete and serves_spec else "False",
                        reason, f"Deployment {name}: {message} ({counts})."),
            Condition(reasons.PROGRESSING, "False", reason, message),
            Condition(reasons.DEGRADED, "True", reason,
                      f"Deployment {name}: {message} ({counts})."),
        ]
    if rollout.complete and serves_spec:
        return [
            Condition(reasons.READY, "True", reasons.AVAILABLE,
                        f"Version {md.model.version} is serving: {counts}."),
            Condition(reasons.PROGRESSING, "False", reasons.ROLLED_OUT,
                        f"Version {md.model.version} is rolled out."),
            Condition(reasons.DEGRADED, "False", reasons.HEALTHY, "No failure observed."),
        ]
    if serves_spec and rollout.current and rollout.finished_once and not rolling:
        # The rollout had finished; replicas were lost since.
        message = f"Deployment {name}: {counts}."
        return [
            Condition(reasons.READY, "False", reasons.REPLICAS_UNAVAILABLE, message),
            Condition(reasons.PROGRESSING, "False", reasons.ROLLED_OUT,
                        f"Version {md.model.version} is rolled out."),
            Condition(reasons.DEGRADED, "True", reasons.REPLICAS_UNAVAILABLE, message),
        ]
    message = f"Rolling out version {md.model.version}: {counts}."
    return [
        Condition(reasons.READY, "False", reasons.ROLLING_OUT, message),
        Condition(reasons.PROGRESSING, "True", reasons.ROLLING_OUT, message),
        Condition(reasons.DEGRADED, "False", reasons.HEALTHY, "No failure observed."),
    ]

