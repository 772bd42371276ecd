"""The one writer of ModelDeployment status.

Several handlers (the ModelDeployment's own, its Deployment's events, the resync timer)
run in kopf's executor threads and may compute status for the same object at once. They
all write through here: one lock per object, and the last status written is remembered,
so a handler holding older observations never rolls status back or repeats an Event.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from vigia_operator import status as st
from vigia_operator.kube import Kube, KubeError
from vigia_operator.reconcile import contains
from vigia_operator.spec import ModelDeploymentView

Obj = dict[str, Any]
Poster = Callable[[Mapping[str, Any], st.Event], None]

logger = logging.getLogger(__name__)


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class StatusWriter:
    def __init__(self, kube: Kube, post: Poster) -> None:
        self._kube = kube
        self._post = post
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._written: dict[str, Obj] = {}

    def observed_generation(self, body: Mapping[str, Any]) -> int | None:
        """The generation whose spec has been applied, as far as this process knows."""
        value = self._previous(body).get("observedGeneration")
        return value if isinstance(value, int) else None

    def sync(
        self,
        body: Mapping[str, Any],
        md: ModelDeploymentView,
        deployment: Mapping[str, Any] | None,
        *,
        handled: bool,
    ) -> None:
        """Write the serving status computed from ``deployment``, if it changed anything."""
        with self._lock(md.uid):
            previous = self._previous(body)
            new = st.serving_status(md, deployment, previous, now=now(), handled=handled)
            self._write(body, previous, new)

    def fail(self, body: Mapping[str, Any], error: Exception) -> None:
        meta = body.get("metadata") or {}
        with self._lock(str(meta.get("uid"))):
            previous = self._previous(body)
            new = st.failed_status(int(meta.get("generation") or 0), error, previous, now())
            self._write(body, previous, new)

    def forget(self, uid: str) -> None:
        with self._guard:
            self._locks.pop(uid, None)
            self._written.pop(uid, None)

    def _lock(self, uid: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(uid, threading.Lock())

    def _previous(self, body: Mapping[str, Any]) -> Obj:
        uid = str((body.get("metadata") or {}).get("uid"))
        with self._guard:
            written = self._written.get(uid)
        return written if written is not None else dict(body.get("status") or {})

    def _write(self, body: Mapping[str, Any], previous: Obj, new: Obj) -> None:
        if contains(previous, new):
            return
        meta = body.get("metadata") or {}
        try:
            result = self._kube.patch_status(meta["namespace"], meta["name"], new)
        except KubeError as error:
            if error.not_found:  # deleted meanwhile: nothing to report on
                return
            raise
        with self._guard:
            self._written[str(meta.get("uid"))] = dict(result.get("status") or {})
        logger.info(f"Status of {meta['namespace']}/{meta['name']}: {new.get('phase')}, "
                    f"observedGeneration {new.get('observedGeneration')}")
        for event in st.events_for(previous, new):
            self._post(body, event)
