"""Pure builders: from a spec view to the complete objects a ModelDeployment should own.

Each builder returns whole objects for server-side apply; the engine applies them as they
are and compares them with what it observes. A new child (canary Deployment, retraining
Job, HTTPRoute) gets its own module here and a line in ``build_children``.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from vigia_operator.children.autoscaler import build_autoscaler
from vigia_operator.children.route import build_gateway_objects
from vigia_operator.children.serving import build_deployment, build_serving
from vigia_operator.children.tracks import Tracks, build_tracks
from vigia_operator.view import ModelDeploymentView

Obj = dict[str, Any]


def build_children(md: ModelDeploymentView, *, allow_sidecar_digest: bool = False,
                   tracks: Tracks | None = None) -> list[Obj]:
    """Every object md should own, in the order to apply them (dependencies first).

    ``tracks``: the rollout's plan; the stable (and canary) Deployments follow it instead
    of serving spec.model directly."""
    serving = build_serving(md, allow_sidecar_digest=allow_sidecar_digest)
    autoscaler = build_autoscaler(md)
    scaling = [] if autoscaler is None else [autoscaler]
    if tracks is None:
        return serving + scaling
    configmap = next(o for o in serving if o["kind"] == "ConfigMap")
    deployment = partial(build_deployment, allow_sidecar_digest=allow_sidecar_digest)
    objects = [o for o in serving if o["kind"] != "Deployment"]
    objects += build_tracks(md, configmap, tracks.plan, keep_canary=tracks.keep_canary,
                            deployment=deployment)
    if tracks.route is not None:
        objects += build_gateway_objects(md, tracks.route, tracks.plan)
    return objects + scaling


__all__ = ["build_children", "build_serving"]
