"""Shards' pure part: which object belongs where, and what each replica's turn takes."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from vigia_operator.core.types import ModelRef
from vigia_operator.engine.leader import LEASE_SECONDS
from vigia_operator.engine.shards import (
    ShardLease,
    fair_share,
    member_lease_name,
    plan_turn,
    read_lease,
    shard_of,
)

SHARDS = 12
NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


def held_by(holders: dict[int, str | None]) -> dict[int, ShardLease]:
    return {s: ShardLease(s, holder, holder is None) for s, holder in holders.items()}


def settle(replicas: list[str], leases: dict[int, ShardLease]) -> dict[int, ShardLease]:
    """Turns of every replica, in order, until nothing changes (drops expire at once)."""
    for _ in range(10):
        before = dict(leases)
        for me in replicas:
            turn = plan_turn(me, replicas, leases, SHARDS)
            for shard in turn.drop:
                leases[shard] = ShardLease(shard, None, True)
            for shard in turn.take:
                leases[shard] = ShardLease(shard, me, False)
        if leases == before:
            return leases
    raise AssertionError("the turns did not settle")


def test_an_objects_shard_is_stable_and_the_shards_are_even() -> None:
    refs = [ModelRef(f"team-{n % 7}", f"model-{n}") for n in range(3000)]
    assert shard_of(refs[0], SHARDS) == shard_of(ModelRef("team-0", "model-0"), SHARDS)
    counts = Counter(shard_of(ref, SHARDS) for ref in refs)
    assert set(counts) == set(range(SHARDS))
    assert max(counts.values()) < 1.25 * 3000 / SHARDS


def test_three_replicas_split_twelve_shards_four_each() -> None:
    leases = settle(["a", "b", "c"], {})
    assert Counter(lease.holder for lease in leases.values()) == {"a": 4, "b": 4, "c": 4}
    assert fair_share(SHARDS, 3) == 4 and fair_share(SHARDS, 5) == 3


def test_a_dead_replicas_shards_go_to_the_others_once_expired() -> None:
    leases = settle(["a", "b", "c"], {})
    orphaned = {s for s, lease in leases.items() if lease.holder == "c"}
    while_held = plan_turn("a", ["a", "b"], leases, SHARDS)
    assert not set(while_held.take) & orphaned  # not expired yet: not taken
    expired = {s: ShardLease(s, "c", True) if s in orphaned else lease
               for s, lease in leases.items()}
    after = settle(["a", "b"], expired)
    assert Counter(lease.holder for lease in after.values()) == {"a": 6, "b": 6}


def test_a_joining_replica_gets_its_share_from_the_others() -> None:
    leases = settle(["a", "b"], {})
    turn = plan_turn("a", ["a", "b", "c"], leases, SHARDS)
    assert len(turn.keep) == 4 and len(turn.drop) == 2 and turn.take == ()
    after = settle(["a", "b", "c"], leases)
    assert Counter(lease.holder for lease in after.values()) == {"a": 4, "b": 4, "c": 4}


def test_a_shard_held_by_another_is_never_taken() -> None:
    leases = held_by({s: "b" for s in range(SHARDS)})
    turn = plan_turn("a", ["a", "b"], leases, SHARDS)
    assert turn == plan_turn("a", ["a", "b"], leases, SHARDS)
    assert turn.take == () and turn.keep == ()


def test_a_lease_is_free_when_released_or_expired() -> None:
    renewed = (NOW - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    stale = (NOW - timedelta(seconds=LEASE_SECONDS + 1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    spec = {"leaseDurationSeconds": LEASE_SECONDS}
    assert read_lease({"spec": {**spec, "holderIdentity": "a", "renewTime": renewed}}, NOW) == (
        "a", False)
    assert read_lease({"spec": {**spec, "holderIdentity": "a", "renewTime": stale}}, NOW) == (
        "a", True)
    assert read_lease({"spec": {**spec, "holderIdentity": None}}, NOW) == (None, True)


def test_a_member_lease_name_is_a_valid_object_name() -> None:
    name = member_lease_name("Vigia_Operator.7f9c-x")
    assert name == "vigia-operator-member-vigia-operator-7f9c-x"
