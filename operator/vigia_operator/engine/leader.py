"""Who acts when several operator replicas run: the holder of a Lease.

Every replica watches and keeps its indexes warm; only the leader reconciles (the engine
asks ``is_leader`` before each reconcile) and ticks. A Lease (coordination.k8s.io, as
client-go's leader election) rather than kopf's peering: it is a real lock with an expiry
and optimistic concurrency, needs no extra CRD or cluster-wide RBAC (a Role on one Lease),
and leaves the standby's watches running, so a new leader ticks at once with a full cache.
kopf's peering freezes whole operators by priority and is not a mutual exclusion.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Protocol

from vigia_operator.core.clock import micro_iso, parse_micro_time
from vigia_operator.core.types import ModelRef
from vigia_operator.kube.client import Kube, KubeError

LEASE_NAME: Final = "vigia-operator"
LEASE_SECONDS: Final = 15
RENEW_SECONDS: Final = 5.0

logger = logging.getLogger(__name__)


class Leadership(Protocol):
    """Whether this replica acts: at all (it ticks), and for one ModelDeployment."""

    @property
    def is_leader(self) -> bool: ...

    def acts_for(self, ref: ModelRef) -> bool: ...


class Standalone:
    """One replica: always the leader (the shipped Deployment runs one, Recreate)."""

    @property
    def is_leader(self) -> bool:
        return True

    def acts_for(self, ref: ModelRef) -> bool:
        return True


def expired(spec: dict[str, Any], now: datetime) -> bool:
    renewed = parse_micro_time(spec.get("renewTime"))
    duration = int(spec.get("leaseDurationSeconds") or LEASE_SECONDS)
    return renewed is None or renewed + timedelta(seconds=duration) < now


class LeaseElection:
    def __init__(self, kube: Kube, namespace: str, on_elected: Callable[[], Awaitable[object]],
                 identity: str | None = None) -> None:
        self._kube = kube
        self._namespace = namespace
        self._on_elected = on_elected
        self.identity = identity or socket.gethostname()
        self._leader = False

    @property
    def is_leader(self) -> bool:
        return self._leader

    def acts_for(self, ref: ModelRef) -> bool:
        return self._leader

    async def run(self) -> None:
        while True:
            try:
                held = await self._try()
            except KubeError as error:
                logger.warning(f"Lease {self._namespace}/{LEASE_NAME}: {error}")
                held = False
            if held and not self._leader:
                logger.info(f"Elected leader ({self.identity}).")
                self._leader = True
                await self._on_elected()
            elif not held and self._leader:
                logger.warning(f"Lost the lease ({self.identity}); standing by.")
                self._leader = False
            await asyncio.sleep(RENEW_SECONDS)

    async def _try(self) -> bool:
        now = datetime.now(UTC)
        try:
            lease = await self._kube.get("coordination.k8s.io/v1", "Lease", self._namespace,
                                         LEASE_NAME)
        except KubeError as error:
            if not error.not_found:
                raise
            await self._kube.create(self._lease(None, now, transitions=0))
            return True
        spec = lease.get("spec") or {}
        holder = spec.get("holderIdentity")
        if holder != self.identity and not expired(spec, now):
            return False
        transitions = int(spec.get("leaseTransitions") or 0) + (holder != self.identity)
        try:
            await self._kube.replace(self._lease(lease, now, transitions))
        except KubeError as error:
            if error.status == 409:  # someone else renewed or took it first
                return False
            raise
        return True

    def _lease(self, current: dict[str, Any] | None, now: datetime,
               transitions: int) -> dict[str, Any]:
        spec = dict((current or {}).get("spec") or {})
        if spec.get("holderIdentity") != self.identity:
            spec["acquireTime"] = micro_iso(now)
        spec.update(holderIdentity=self.identity, leaseDurationSeconds=LEASE_SECONDS,
                    renewTime=micro_iso(now), leaseTransitions=transitions)
        meta = {"name": LEASE_NAME, "namespace": self._namespace}
        if current is not None:
            meta["resourceVersion"] = current["metadata"]["resourceVersion"]
        return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta,
                "spec": spec}
