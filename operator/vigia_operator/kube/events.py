"""Kubernetes Events on ModelDeployments, posted by the operator itself.

Posting never fails a handler: an Event is a report, not a step of the reconciliation. A
namespace being deleted refuses new Events; that is expected and not worth a log line.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Mapping
from typing import Any, Final

from vigia_operator.core.clock import iso, utcnow
from vigia_operator.core.text import one_sentence
from vigia_operator.core.types import Event
from vigia_operator.kube.client import CreateAPI, KubeError

COMPONENT: Final = "vigia-operator"

logger = logging.getLogger(__name__)


def build_event(involved: Mapping[str, Any], type: str, reason: str, message: str,
                now: str, instance: str) -> dict[str, Any]:
    meta = involved.get("metadata") or {}
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"generateName": f"{meta.get('name')}.", "namespace": meta.get("namespace")},
        "involvedObject": {
            "apiVersion": involved.get("apiVersion"),
            "kind": involved.get("kind"),
            "name": meta.get("name"),
            "namespace": meta.get("namespace"),
            "uid": meta.get("uid"),
        },
        "type": type,
        "reason": reason,
        "message": one_sentence(message),
        "source": {"component": COMPONENT},
        "reportingComponent": COMPONENT,
        "reportingInstance": instance,
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
    }


class EventRecorder:
    def __init__(self, kube: CreateAPI, instance: str | None = None) -> None:
        self._kube = kube
        self._instance = (instance or socket.gethostname())[:128]

    async def __call__(self, involved: Mapping[str, Any], event: Event) -> None:
        now = iso(utcnow())
        body = build_event(involved, event.type, event.reason, event.message, now,
                           self._instance)
        try:
            await self._kube.create(body)
        except KubeError as error:
            if not error.namespace_terminating:
                logger.warning(f"Event {event.reason} not posted: {error}")
