"""Pure builders: from a spec view to the complete objects a ModelDeployment should own.

Each builder returns whole objects for server-side apply; the engine applies them as they
are and compares them with what it observes. A new child (canary Deployment, retraining
Job, HTTPRoute) gets its own module here and a line in ``build_children``.
"""

from __future__ import annotations

from typing import Any

from vigia_operator.build.serving import build_serving
from vigia_operator.spec import ModelDeploymentView

Obj = dict[str, Any]


def build_children(md: ModelDeploymentView, *, allow_sidecar_digest: bool = False) -> list[Obj]:
    """Every object md should own, in the order to apply them (dependencies first)."""
    return [*build_serving(md, allow_sidecar_digest=allow_sidecar_digest)]


__all__ = ["build_children", "build_serving"]
