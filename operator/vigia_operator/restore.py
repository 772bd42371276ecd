"""Keeping a ModelDeployment's children as built: restore what was edited or deleted by
hand, and the periodic resync that catches what an event missed. Called by the handlers."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from vigia_operator import resource as r
from vigia_operator.builders import build_children
from vigia_operator.events import EventRecorder
from vigia_operator.kube import Kube, KubeError
from vigia_operator.reconcile import ChildKey, contains, differences, plan
from vigia_operator.spec import ModelDeploymentView, SpecError, parse
from vigia_operator.writer import StatusWriter


@dataclass
class Services:
    """What the handlers share, made once at startup: API client, status writer, events."""

    kube: Kube
    writer: StatusWriter
    event: EventRecorder


def resync_one(services: Services, body: Mapping[str, Any],
               observed: Mapping[ChildKey, Any]) -> None:
    """Restore drifted children of one ModelDeployment and refresh its status."""
    if (body.get("metadata") or {}).get("deletionTimestamp") or not handled(body, services):
        return  # being deleted, or a spec change the change handlers have yet to apply
    try:
        md = parse(body)
    except SpecError:
        return
    deployment = observed.get(("Deployment", r.deployment_name(md.name, "stable")))
    try:
        for action in plan(build_children(md), observed):
            result = services.kube.apply(action.desired)
            if action.key[0] == "Deployment":
                deployment = result
            post_restored(services, body, action.desired, observed.get(action.key))
        services.writer.sync(body, md, deployment, handled=True)
    except KubeError as error:
        if not error.namespace_terminating:
            logging.getLogger(__name__).warning(
                f"Resync of {md.namespace}/{md.name} failed, will retry: {error}")


def handled(body: Mapping[str, Any], services: Services) -> bool:
    generation = (body.get("metadata") or {}).get("generation")
    return services.writer.observed_generation(body) == generation


def post_restored(services: Services, md_body: Mapping[str, Any],
                   desired: Mapping[str, Any], observed: Mapping[str, Any] | None) -> None:
    what = f"{desired['kind']} {desired['metadata']['name']}"
    if observed is None:
        message = f"{what} was deleted; re-created it."
    else:
        fields = differences(observed, desired)
        shown = ", ".join(fields[:5]) + (", ..." if len(fields) > 5 else "")
        message = f"{what} was changed ({shown}); restored it."
    services.event(md_body, "Warning", "Restored", message)


def owned_by(child: Mapping[str, Any], md: ModelDeploymentView) -> bool:
    refs = (child.get("metadata") or {}).get("ownerReferences") or []
    # A hand-made object with our labels but no owner is still restored to what we own.
    return not refs or any(ref.get("uid") == md.uid for ref in refs)


def restore_child(
    type: str | None, body: Mapping[str, Any], md_body: Mapping[str, Any],
    md: ModelDeploymentView, desired: Mapping[str, Any], services: Services,
) -> Mapping[str, Any] | None:
    """Re-apply a child that no longer matches; return its current state (None if gone)."""
    if not handled(md_body, services):
        # A spec change is pending: the ModelDeployment's own handler applies it.
        return None if type == "DELETED" else body
    if type == "DELETED":
        if not still_exists(md, services.kube):
            return None
        restored = services.kube.apply(desired)
        post_restored(services, md_body, desired, None)
        return restored
    if contains(body, desired):
        return body
    restored = services.kube.apply(desired)
    post_restored(services, md_body, desired, body)
    return restored


def still_exists(md: ModelDeploymentView, kube: Kube) -> bool:
    """Whether md is alive; children of a deleted one are left to the garbage collector."""
    try:
        current = kube.get(r.API_VERSION, r.KIND, md.namespace, md.name)
    except KubeError as error:
        if error.not_found:
            return False
        raise
    meta = current.get("metadata") or {}
    return bool(meta.get("uid") == md.uid and not meta.get("deletionTimestamp"))
