"""The periodic resync: a safety net for missed watch events.

One thread for the whole operator, not a kopf timer per object: kopf puts a finalizer on
every object with a timer, and a finalizer would make deleting a ModelDeployment hang
while the operator is down. Each round lists the ModelDeployments and their children
(one request per kind, whatever their number) and hands each one to ``reconcile_one``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from vigia_operator import resource as r
from vigia_operator.kube import Kube, KubeError
from vigia_operator.reconcile import ChildKey, key_of

Obj = dict[str, Any]
Observed = dict[ChildKey, Obj]
ReconcileOne = Callable[[Mapping[str, Any], Observed], None]
CHILD_TYPES: Sequence[tuple[str, str]] = (
    ("v1", "ServiceAccount"), ("v1", "ConfigMap"), ("v1", "Service"), ("apps/v1", "Deployment"),
)

logger = logging.getLogger(__name__)


def slim(obj: Mapping[str, Any]) -> Obj:
    """An object without managedFields, which are large and never compared."""
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k != "managedFields"}
    return {**{k: v for k, v in obj.items() if k != "metadata"}, "metadata": meta}


def group_children(children: list[Obj]) -> dict[tuple[str, str], Observed]:
    """Children by (namespace, owning ModelDeployment), from their owner label."""
    grouped: dict[tuple[str, str], Observed] = {}
    for child in children:
        meta = child.get("metadata") or {}
        owner = (meta.get("labels") or {}).get(r.LABEL_OWNER)
        if owner:
            grouped.setdefault((meta.get("namespace", ""), owner), {})[key_of(child)] = child
    return grouped


class Resync(threading.Thread):
    def __init__(self, kube: Kube, reconcile_one: ReconcileOne, interval: float,
                 namespaces: Sequence[str] = ()) -> None:
        super().__init__(name="vigia-resync", daemon=True)
        self._kube = kube
        self._reconcile_one = reconcile_one
        self._interval = interval
        self._namespaces: Sequence[str | None] = list(namespaces) or [None]
        self._stopped = threading.Event()

    def run(self) -> None:
        while not self._stopped.wait(self._interval):
            try:
                self.once()
            except KubeError as error:
                logger.warning(f"Resync round failed, next in {self._interval:.0f}s: {error}")

    def stop(self) -> None:
        self._stopped.set()

    def once(self) -> None:
        selector = f"{r.LABEL_MANAGED_BY}={r.MANAGED_BY}"
        for namespace in self._namespaces:
            children: list[Obj] = []
            for api_version, kind in CHILD_TYPES:
                for child in self._kube.list(api_version, kind, namespace, selector):
                    children.append({"apiVersion": api_version, "kind": kind, **slim(child)})
            grouped = group_children(children)
            for body in self._kube.list(r.API_VERSION, r.KIND, namespace):
                if self._stopped.is_set():
                    return
                meta = body.get("metadata") or {}
                key = (str(meta.get("namespace")), str(meta.get("name")))
                self._reconcile_one({"apiVersion": r.API_VERSION, "kind": r.KIND, **body},
                                    grouped.get(key, {}))
