"""The one writer of ModelDeployment status.

Every trigger's reconcile ends here with a ``StatusUpdate``. The writer merges it with the
status it last knows (its own last write while the watch has not caught up, else the
object's), writes only when something changed, and posts the Events the difference
calls for. The engine holds a per-object lock around a reconcile, so writes of one
object never interleave.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

from vigia_operator.core import reasons
from vigia_operator.core.clock import iso, utcnow
from vigia_operator.core.objects import contains
from vigia_operator.core.types import Event
from vigia_operator.kube.client import KubeError, StatusAPI
from vigia_operator.status.compose import compose
from vigia_operator.status.events import events_for
from vigia_operator.status.sections import StatusUpdate

Obj = dict[str, Any]
REPLACED_KEPT = 8  # statuses remembered as replaced by our writes, per object
Poster = Callable[[Mapping[str, Any], Event], Awaitable[None]]

logger = logging.getLogger(__name__)


class StatusWriter:
    def __init__(self, kube: StatusAPI, post: Poster) -> None:
        self._kube = kube
        self._post = post
        # uid -> (digests of the statuses our writes replaced, the status last written)
        self._written: dict[str, tuple[tuple[str, ...], Obj]] = {}
        self._refusals: dict[str, str] = {}  # uid -> the refusal last reported

    def current(self, body: Mapping[str, Any]) -> Obj:
        """The latest status of ``body``'s object: our own write if the body predates it.

        Judged by the status, not the resourceVersion: the watch can deliver a body newer
        than the one a write was based on that still predates the write (an earlier write
        of ours, when two were made before the watch caught up), and deciding again from
        its older status would repeat the decision and its Events."""
        observed = dict(body.get("status") or {})
        remembered = self._written.get(str((body.get("metadata") or {}).get("uid")))
        if remembered is not None and digest(observed) in remembered[0]:
            return remembered[1]
        return observed

    async def write(self, body: Mapping[str, Any], update: StatusUpdate, *,
                    now: datetime | None = None) -> bool:
        """Merge ``update`` into the status and write it if it differs; True if written.
        ``now``: the reconcile's clock reading (a condition's lastTransitionTime)."""
        previous = self.current(body)
        new = compose(previous, update, iso(now or utcnow()))
        if previous == new or (contains(previous, new) and contains(new, previous)):
            return False
        meta = body.get("metadata") or {}
        try:
            await self._kube.patch_status(meta["namespace"], meta["name"],
                                          merge_patch(previous, new))
        except KubeError as error:
            if error.not_found:  # deleted meanwhile: nothing to report on
                return False
            if error.status in (400, 422):  # the same write is refused again: not retried
                await self._refused(body, error)
                return False
            raise
        self._refusals.pop(str(meta.get("uid")), None)
        self._written[str(meta.get("uid"))] = (self._replaced(body, previous), new)
        logger.info(f"Status of {meta['namespace']}/{meta['name']}: {new.get('phase')}, "
                    f"observedGeneration {new.get('observedGeneration')}")
        for event in events_for(previous, new, update.answered):
            await self._post(body, event)
        return True

    def _replaced(self, body: Mapping[str, Any], previous: Obj) -> tuple[str, ...]:
        """The statuses a write replaces: the body's, and, while the watch has not shown
        our last write, the ones that write replaced too (a few: the watch catches up)."""
        observed = digest(dict(body.get("status") or {}))
        remembered = self._written.get(str((body.get("metadata") or {}).get("uid")))
        older = remembered[0] if remembered and observed in remembered[0] else ()
        return (*older, observed, digest(previous))[-REPLACED_KEPT:]

    async def _refused(self, body: Mapping[str, Any], error: KubeError) -> None:
        """Say once (per distinct refusal) that the status could not be written, and why:
        the API server's message names the field."""
        meta = body.get("metadata") or {}
        uid, message = str(meta.get("uid")), f"Status not written: {error.message}"[:1000]
        logger.error(f"{meta.get('namespace')}/{meta.get('name')}: {message}")
        if self._refusals.get(uid) != message:
            self._refusals[uid] = message
            await self._post(body, Event(reasons.WARNING, reasons.STATUS_REFUSED, message))

    def refused(self, uid: str) -> bool:
        """Whether the API server refused the last status write of that object."""
        return uid in self._refusals

    def forget(self, uid: str) -> None:
        self._written.pop(uid, None)
        self._refusals.pop(uid, None)


def digest(status: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(status, sort_keys=True).encode()).hexdigest()


def merge_patch(previous: Mapping[str, Any], new: Mapping[str, Any]) -> Obj:
    """``new`` as a JSON merge patch over ``previous``: a merge patch merges objects at
    every depth and deletes a field only when it is null, so each field of an object
    ``previous`` has and ``new`` lacks (a section, or ``canary.stepStartedAt`` when a step
    ends) is sent as null. Lists are replaced whole."""
    patch: Obj = {key: None for key in previous if key not in new}
    for key, value in new.items():
        before = previous.get(key)
        if isinstance(value, Mapping) and isinstance(before, Mapping):
            patch[key] = merge_patch(before, value)
        else:
            patch[key] = value
    return patch
