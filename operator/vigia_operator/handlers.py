"""kopf handlers. They stay thin: the work is in builders, reconcile, restore and status.

- ModelDeployment create/update/resume: apply the children that differ, write status.
- Child events (Deployment, Service, ConfigMap, ServiceAccount carrying our labels):
  restore a child edited or deleted by hand; a Deployment's progress updates status.
- A resync thread repeats the comparison every minute, in case an event was missed.
Observed objects come from kopf indexes, so a reconcile without drift makes no API call.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Final

import kopf

from vigia_operator import resource as r
from vigia_operator.builders import build_children
from vigia_operator.events import EventRecorder
from vigia_operator.kube import Kube, KubeError, load_config
from vigia_operator.reconcile import ChildKey, key_of, plan
from vigia_operator.restore import Services, handled, owned_by, restore_child, resync_one
from vigia_operator.resync import Resync, slim
from vigia_operator.spec import ModelDeploymentView, SpecError, parse
from vigia_operator.status import Event
from vigia_operator.writer import StatusWriter

# (group, version, plural, kind) of every child kind, and the kopf index holding them.
CHILDREN: Final = (
    ("", "v1", "serviceaccounts", "ServiceAccount"),
    ("", "v1", "configmaps", "ConfigMap"),
    ("", "v1", "services", "Service"),
    ("apps", "v1", "deployments", "Deployment"),
)
MODELS_INDEX: Final = "models_index"
RESYNC_SECONDS: Final = 60.0
MAX_BACKOFF_SECONDS: Final = 60.0
OWNED: Final = {r.LABEL_MANAGED_BY: r.MANAGED_BY}


def index_name(plural: str) -> str:
    return f"{plural}_index"


def _services(memo: Any) -> Services:
    services = memo.get("services")
    if not isinstance(services, Services):
        raise kopf.TemporaryError("operator not started yet", delay=1)
    return services




@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    # Progress in annotations under our own prefix: status belongs to the schema.
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=r.GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix=r.GROUP)
    settings.persistence.finalizer = f"{r.GROUP}/finalizer"
    # No CRD watching: the CRD is installed before the operator (no cluster-wide CRD access).
    settings.scanning.disabled = True
    settings.execution.max_workers = 16
    # Only our children are listed and watched, filtered by the API server.
    for group, version, plural, _kind in CHILDREN:
        key = (group, version, plural) if group else (version, plural)
        settings.watching.label_selectors[key] = f"{r.LABEL_MANAGED_BY}={r.MANAGED_BY}"
    load_config()
    kube = Kube()
    record = EventRecorder(kube)

    def post(body: Mapping[str, Any], event: Event) -> None:
        record(body, event.type, event.reason, event.message)

    services = Services(kube=kube, writer=StatusWriter(kube, post), event=record)
    memo["services"] = services
    memo["resync"] = Resync(kube, lambda body, observed: resync_one(services, body, observed),
                            RESYNC_SECONDS, memo.get("namespaces") or ())
    memo["resync"].start()


@kopf.on.cleanup()
def stop_resync(memo: kopf.Memo, **_: Any) -> None:
    resync = memo.get("resync")
    if isinstance(resync, Resync):
        resync.stop()


@kopf.index(r.GROUP, r.VERSION, r.PLURAL, id=MODELS_INDEX)
def models_index(
    *, namespace: str | None, name: str, body: kopf.Body, **_: Any
) -> dict[Any, Any]:
    return {(namespace, name): slim(body)}


def _index_child(
    *, namespace: str | None, labels: kopf.Labels, body: kopf.Body, **_: Any
) -> dict[Any, Any]:
    owner = labels.get(r.LABEL_OWNER)
    return {} if owner is None else {(namespace, owner): slim(body)}


for _group, _version, _plural, _kind in CHILDREN:
    kopf.index(group=_group, version=_version, plural=_plural, labels=OWNED,
               id=index_name(_plural))(_index_child)


def _one(index: Any, key: tuple[str, str]) -> dict[str, Any] | None:
    if index is None or key not in index:
        return None
    return next(iter(index[key]), None)


def _observed(kwargs: Mapping[str, Any], namespace: str, name: str) -> dict[ChildKey, Any]:
    observed: dict[ChildKey, Any] = {}
    for _g, _v, plural, _k in CHILDREN:
        index = kwargs.get(index_name(plural))
        if index is not None and (namespace, name) in index:
            for obj in index[(namespace, name)]:
                observed[key_of(obj)] = obj
    return observed


def _backoff(retry: int) -> float:
    return float(min(MAX_BACKOFF_SECONDS, 2**retry))


class NamespaceTerminating(Exception):
    """The ModelDeployment's namespace is being deleted, and the object with it."""


def _apply(kube: Kube, obj: Mapping[str, Any], retry: int) -> dict[str, Any]:
    try:
        return kube.apply(obj)
    except KubeError as error:
        if error.namespace_terminating:
            raise NamespaceTerminating(str(error)) from error
        what = f"{obj['kind']} {obj['metadata']['name']}"
        # 403 and 404 can heal (RBAC fixed, namespace recreated); 400/422 cannot.
        if error.retryable or error.status in (401, 403, 404):
            raise kopf.TemporaryError(f"applying {what}: {error}", delay=_backoff(retry)) from error
        raise kopf.PermanentError(f"{what} was refused: {error.message}") from error


def _parse_or_fail(body: Mapping[str, Any], services: Services) -> ModelDeploymentView:
    try:
        return parse(body)
    except SpecError as error:
        services.event(body, "Warning", "InvalidSpec", str(error))
        _write_failure(services, body, error)
        raise kopf.PermanentError(str(error)) from error


def _write_failure(services: Services, body: Mapping[str, Any], error: Exception) -> None:
    try:
        services.writer.fail(body, error)
    except KubeError as write_error:
        raise kopf.TemporaryError(f"writing status: {write_error}", delay=5) from write_error


def _model_change(diff: Any) -> tuple[str, str] | None:
    for _op, field, old, new in diff or ():
        if tuple(field) == ("spec", "model", "uri") and old and new and old != new:
            return str(old), str(new)
        if tuple(field) in (("spec",), ("spec", "model")):
            before = ((old or {}).get("model") or {}) if field == ("spec",) else (old or {})
            after = ((new or {}).get("model") or {}) if field == ("spec",) else (new or {})
            if before.get("uri") and after.get("uri") and before["uri"] != after["uri"]:
                return str(before["uri"]), str(after["uri"])
    return None


@kopf.on.resume(r.GROUP, r.VERSION, r.PLURAL)
@kopf.on.create(r.GROUP, r.VERSION, r.PLURAL)
@kopf.on.update(r.GROUP, r.VERSION, r.PLURAL)
def reconcile(
    body: kopf.Body, memo: kopf.Memo, reason: str, diff: Any, retry: int, **kwargs: Any
) -> None:
    services = _services(memo)
    md = _parse_or_fail(body, services)
    observed = _observed(kwargs, md.namespace, md.name)
    actions = plan(build_children(md), observed)
    deployment = observed.get(("Deployment", r.deployment_name(md.name, "stable")))
    applied = []
    try:
        for action in actions:
            result = _apply(services.kube, action.desired, retry)
            applied.append(action)
            if action.key[0] == "Deployment":
                deployment = result
    except kopf.PermanentError as error:
        services.event(body, "Warning", "ApplyRefused", str(error))
        _write_failure(services, body, error)
        raise
    except NamespaceTerminating:
        return
    _announce(services, body, md, reason, diff, applied)
    try:
        services.writer.sync(body, md, deployment, handled=True)
    except KubeError as error:
        raise kopf.TemporaryError(f"writing status: {error}", delay=_backoff(retry)) from error


def _announce(services: Services, body: Mapping[str, Any], md: ModelDeploymentView,
              reason: str, diff: Any, applied: list[Any]) -> None:
    change = _model_change(diff) if reason == "update" else None
    if change is not None:
        old, new = change
        services.event(body, "Normal", "ModelChanged",
                       f"Model changed from {old} to {new}: rolling out version "
                       f"{md.model.version} on Deployment "
                       f"{r.deployment_name(md.name, 'stable')}.")
    created = [f"{a.key[0]} {a.key[1]}" for a in applied if a.missing]
    updated = [f"{a.key[0]} {a.key[1]}" for a in applied if not a.missing]
    if created:
        services.event(body, "Normal", "Created", "Created " + ", ".join(created) + ".")
    if updated and change is None:
        services.event(body, "Normal", "Updated", "Updated " + ", ".join(updated) + ".")


def on_child_event(
    *, type: str, body: kopf.Body, namespace: str | None, labels: kopf.Labels, memo: Any,
    logger: kopf.Logger, **kwargs: Any,
) -> None:
    owner = labels.get(r.LABEL_OWNER)
    services = _services(memo)
    if owner is None or namespace is None:
        return
    md_body = _one(kwargs.get(MODELS_INDEX), (namespace, owner))
    if md_body is None or (md_body.get("metadata") or {}).get("deletionTimestamp"):
        return
    try:
        md = parse(md_body)
    except SpecError:
        return
    desired = {key_of(obj): obj for obj in build_children(md)}.get(key_of(body))
    if desired is None or not owned_by(body, md):
        return
    try:
        current = restore_child(type, body, md_body, md, desired, services)
        if desired["kind"] == "Deployment" and current is not None:
            services.writer.sync(md_body, md, current, handled=handled(md_body, services))
    except KubeError as error:
        if not error.namespace_terminating:
            logger.warning(f"Reconciling {key_of(body)} failed; the resync will retry: {error}")


for _group, _version, _plural, _kind in CHILDREN:
    kopf.on.event(group=_group, version=_version, plural=_plural, labels=OWNED,
                  id=f"{_plural}_event")(on_child_event)


@kopf.on.delete(r.GROUP, r.VERSION, r.PLURAL, optional=True)
def deleted(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """Runs only when something else holds a finalizer (e.g. foreground deletion): the
    children go with their owner through the garbage collector; nothing else to clean."""
    _services(memo).event(body, "Normal", "Deleting",
                          "Children will be removed by the garbage collector.")
    _services(memo).writer.forget(str(body.meta.get("uid")))


@kopf.on.event(r.GROUP, r.VERSION, r.PLURAL)
def forget_deleted(type: str | None, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    if type == "DELETED":
        _services(memo).writer.forget(str(body.meta.get("uid")))


logging.getLogger("kubernetes").setLevel(logging.WARNING)
