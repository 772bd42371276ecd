"""Several operator replicas sharing the ModelDeployments: each owns some shards.

A ModelDeployment belongs to shard ``hash(namespace/name) mod shards``; each shard is a
Lease (``vigia-operator-shard-N``) and a replica acts only for the objects of the shards it
holds. Every replica also renews a membership Lease of its own, so each one knows how
many are alive and takes at most its fair share, ``ceil(shards / live replicas)``:

- a replica that dies stops renewing; one lease period later its shards are expired and
  the others take them (rebalancing within one lease period);
- a replica that joins makes the fair share smaller; the others stop renewing their extra
  shards at once, and it takes them when they expire.

Never two deciding for one object: a shard is taken only once its Lease has expired or
been released, with optimistic concurrency (a replace with the resourceVersion read), and
a holder stops acting for a shard ``RENEW_MARGIN_SECONDS`` before others may take it,
counted from the start of the renewal that succeeded; a holder that cannot renew (API
server unreachable) therefore stops acting before anyone else starts.

Every replica watches everything and keeps its indexes warm, so a shard taken over is
reconciled at once from a full cache (``on_acquired``: the tick runs).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from vigia_operator.core import resources as r
from vigia_operator.core.clock import micro_iso
from vigia_operator.core.types import ModelRef
from vigia_operator.engine.leader import LEASE_NAME, LEASE_SECONDS, RENEW_SECONDS, expired
from vigia_operator.kube.client import Kube, KubeError

LEASE_API: Final = "coordination.k8s.io/v1"
LABEL_LEASE_ROLE: Final = f"{r.GROUP}/operator-lease"
ROLE_MEMBER: Final = "member"
ROLE_SHARD: Final = "shard"
# A holder stops acting this long before its Lease could be taken by another replica.
RENEW_MARGIN_SECONDS: Final = 5.0

logger = logging.getLogger(__name__)


def shard_of(ref: ModelRef, shards: int) -> int:
    """The shard of one ModelDeployment: stable across processes and restarts (not
    Python's salted ``hash``)."""
    digest = hashlib.sha256(f"{ref.namespace}/{ref.name}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % shards


def shard_lease_name(shard: int) -> str:
    return f"{LEASE_NAME}-shard-{shard}"


def member_lease_name(identity: str) -> str:
    safe = re.sub(r"[^a-z0-9-]", "-", identity.lower()).strip("-")[:180]
    return f"{LEASE_NAME}-member-{safe}"


def fair_share(shards: int, members: int) -> int:
    return math.ceil(shards / max(1, members))


@dataclass(frozen=True)
class ShardLease:
    """What a turn needs to know of one shard's Lease."""

    shard: int
    holder: str | None
    free: bool  # never held, released, or expired


@dataclass(frozen=True)
class Turn:
    keep: tuple[int, ...]  # held, renewed
    take: tuple[int, ...]  # free, to try
    drop: tuple[int, ...]  # held past the fair share: no longer renewed


def plan_turn(me: str, members: Iterable[str], leases: Mapping[int, ShardLease],
              shards: int) -> Turn:
    """Which shards to renew, try to take and let go of, for replica ``me`` seeing the
    live ``members`` (itself included) and the shards' Leases (a missing one is free).

    Each replica starts looking for free shards at its own offset (its rank among the
    members times the fair share), so replicas joining together rarely race for one."""
    live = sorted({*members, me})
    share = fair_share(shards, len(live))
    held = [s for s in range(shards)
            if (lease := leases.get(s)) is not None and lease.holder == me and not lease.free]
    keep, drop = held[:share], held[share:]
    start = live.index(me) * share
    order = [(start + k) % shards for k in range(shards)]
    free = [s for s in order if s not in held and (s not in leases or leases[s].free)]
    return Turn(keep=tuple(keep), take=tuple(free[:max(0, share - len(keep))]),
                drop=tuple(drop))


def read_lease(lease: Mapping[str, Any], now: datetime) -> tuple[str | None, bool]:
    """A Lease's holder and whether it is free (no holder, or expired)."""
    spec = lease.get("spec") or {}
    holder = spec.get("holderIdentity") or None
    return holder, holder is None or expired(spec, now)


class ShardElection:
    """The shards this replica holds, kept by a turn every ``RENEW_SECONDS``."""

    def __init__(self, kube: Kube, namespace: str, shards: int, identity: str,
                 on_acquired: Callable[[], Awaitable[object]]) -> None:
        self._kube = kube
        self._namespace = namespace
        self.shards = shards
        self.identity = identity
        self._on_acquired = on_acquired
        self._held: dict[int, float] = {}  # shard -> monotonic time it must stop acting
        self._member_uid = ""

    def acts_for(self, ref: ModelRef) -> bool:
        until = self._held.get(shard_of(ref, self.shards))
        return until is not None and time.monotonic() < until

    @property
    def is_leader(self) -> bool:
        """Whether it acts for any shard (the tick runs only then)."""
        now = time.monotonic()
        return any(now < until for until in self._held.values())

    @property
    def held(self) -> list[int]:
        now = time.monotonic()
        return sorted(s for s, until in self._held.items() if now < until)

    async def run(self) -> None:
        while True:
            try:
                taken = await self.turn()
            except KubeError as error:
                logger.warning(f"Shard Leases in {self._namespace}: {error}")
                taken = False
            if taken:
                await self._on_acquired()
            await asyncio.sleep(RENEW_SECONDS)

    async def turn(self) -> bool:
        """One renewal round; whether a shard was newly taken."""
        started, now = time.monotonic(), datetime.now(UTC)
        member = await self._kube.apply(self._member(now))  # only this replica writes it
        self._member_uid = str((member.get("metadata") or {}).get("uid") or "")
        members, leases, bodies = await self._read(now)
        plan = plan_turn(self.identity, members, leases, self.shards)
        for shard in plan.drop:
            self._held.pop(shard, None)
            logger.info(f"Shard {shard} let go ({self.identity}): past the fair share.")
        for shard in [s for s in self._held if s not in plan.keep]:
            del self._held[shard]  # taken by another replica or expired meanwhile
        taken = False
        for shard in (*plan.keep, *plan.take):
            body = self._shard(shard, bodies.get(shard), now)
            if await self._renew(body):
                taken = taken or shard not in self._held
                self._held[shard] = started + LEASE_SECONDS - RENEW_MARGIN_SECONDS
            else:
                self._held.pop(shard, None)
        if taken:
            logger.info(f"Shards held by {self.identity}: {self.held} of {self.shards}.")
        return taken

    async def stop(self) -> None:
        """Let the shards go at once (a graceful stop): the others need not wait for the
        Leases to expire."""
        held, self._held = list(self._held), {}
        now = datetime.now(UTC)
        _, _, bodies = await self._read(now)
        for shard in held:
            body = bodies.get(shard)
            if body is not None and (body.get("spec") or {}).get("holderIdentity") == \
                    self.identity:
                released = {**body, "apiVersion": LEASE_API, "kind": "Lease",  # not in lists
                            "spec": {**body["spec"], "holderIdentity": None}}
                await self._renew(released)
        if self._member_uid:
            await self._kube.delete(LEASE_API, "Lease", self._namespace,
                                    member_lease_name(self.identity), uid=self._member_uid)

    async def _read(self, now: datetime) -> tuple[
            list[str], dict[int, ShardLease], dict[int, dict[str, Any]]]:
        members: list[str] = []
        leases: dict[int, ShardLease] = {}
        bodies: dict[int, dict[str, Any]] = {}
        async for lease in self._kube.list(LEASE_API, "Lease", self._namespace,
                                           label_selector=LABEL_LEASE_ROLE):
            labels = (lease.get("metadata") or {}).get("labels") or {}
            holder, free = read_lease(lease, now)
            if labels.get(LABEL_LEASE_ROLE) == ROLE_MEMBER and holder and not free:
                members.append(holder)
            elif labels.get(LABEL_LEASE_ROLE) == ROLE_SHARD:
                shard = int(labels.get(f"{r.GROUP}/shard", "-1"))
                if 0 <= shard < self.shards:
                    leases[shard] = ShardLease(shard, holder, free)
                    bodies[shard] = lease
        return members, leases, bodies

    async def _renew(self, body: dict[str, Any]) -> bool:
        """Create or replace one Lease; False when another replica got there first."""
        try:
            if (body.get("metadata") or {}).get("resourceVersion"):
                await self._kube.replace(body)
            else:
                await self._kube.create(body)
        except KubeError as error:
            if error.status == 409:
                return False
            raise
        return True

    def _member(self, now: datetime) -> dict[str, Any]:
        name = member_lease_name(self.identity)
        return self._lease(name, {LABEL_LEASE_ROLE: ROLE_MEMBER}, None, now)

    def _shard(self, shard: int, current: dict[str, Any] | None,
               now: datetime) -> dict[str, Any]:
        labels = {LABEL_LEASE_ROLE: ROLE_SHARD, f"{r.GROUP}/shard": str(shard)}
        return self._lease(shard_lease_name(shard), labels, current, now)

    def _lease(self, name: str, labels: dict[str, str], current: dict[str, Any] | None,
               now: datetime) -> dict[str, Any]:
        spec = dict((current or {}).get("spec") or {})
        if spec.get("holderIdentity") != self.identity:
            spec["acquireTime"] = micro_iso(now)
            spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + 1
        spec.update(holderIdentity=self.identity, leaseDurationSeconds=LEASE_SECONDS,
                    renewTime=micro_iso(now))
        meta: dict[str, Any] = {"name": name, "namespace": self._namespace, "labels": labels}
        if current is not None:
            meta["resourceVersion"] = current["metadata"]["resourceVersion"]
        return {"apiVersion": LEASE_API, "kind": "Lease", "metadata": meta, "spec": spec}
