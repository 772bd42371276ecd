"""Three operator replicas sharing the ModelDeployments by shards, on the real control
plane under the shipped RBAC: one is killed (SIGKILL, as when its node dies) in the middle
of a rollout, and its objects continue from where they were with another replica, none of
them acted on by two replicas."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from vigia_operator.core import reasons
from vigia_operator.engine.leader import LEASE_SECONDS, RENEW_SECONDS
from vigia_operator.engine.shards import LABEL_LEASE_ROLE, ROLE_SHARD
from vigia_testbed.kube import kubectl, wait_for
from vigia_testbed.operator import OperatorProcess, model_deployment, wait_ready, wait_stable

pytestmark = pytest.mark.integration

REPLICAS = ("replica-a", "replica-b", "replica-c")
SHARDS = 6
MODELS = [f"m{n}" for n in range(12)]
LEASES = "vigia-system"


@pytest.fixture
def replicas(operator_config: Path, namespace: str,
             tmp_path: Path) -> Iterator[dict[str, OperatorProcess]]:
    processes = {name: OperatorProcess(
        operator_config, tmp_path / f"{name}.log", [namespace],
        env={"VIGIA_OPERATOR_SHARDS": str(SHARDS), "VIGIA_OPERATOR_IDENTITY": name,
             "VIGIA_OPERATOR_TICK_SECONDS": "5"}) for name in REPLICAS}
    try:
        for process in processes.values():
            process.start()
        yield processes
    finally:
        for process in processes.values():
            process.stop()
        for process in processes.values():
            assert "Traceback" not in process.log(), process.log()[-4000:]
            assert "is forbidden: User" not in process.log(), process.log()[-4000:]


def events_by(kubeconfig: Path, namespace: str) -> dict[str, list[dict[str, Any]]]:
    """Each ModelDeployment's Events, oldest first."""
    items = json.loads(kubectl(kubeconfig, "get", "events", "-n", namespace, "-o", "json",
                               "--field-selector", "involvedObject.kind=ModelDeployment"))
    found: dict[str, list[dict[str, Any]]] = {name: [] for name in MODELS}
    for event in sorted(items["items"], key=lambda e: e["firstTimestamp"]):
        found.setdefault(event["involvedObject"]["name"], []).append(event)
    return found


def instances(events: list[dict[str, Any]]) -> set[str]:
    return {event["reportingInstance"] for event in events}


def shard_holders(kubeconfig: Path) -> dict[str, str]:
    """Each shard Lease's holder ("" when released)."""
    leases = json.loads(kubectl(kubeconfig, "get", "leases", "-n", LEASES, "-o", "json",
                                "-l", f"{LABEL_LEASE_ROLE}={ROLE_SHARD}"))["items"]
    return {lease["metadata"]["name"]: lease["spec"].get("holderIdentity") or ""
            for lease in leases}


def rollout_started(kubeconfig: Path, namespace: str, name: str) -> bool:
    return any(e["reason"] == reasons.ROLLOUT_STARTED
               for e in events_by(kubeconfig, namespace)[name])


def test_a_killed_replicas_objects_continue_with_another_one(
        installed: Path, namespace: str, replicas: dict[str, OperatorProcess]) -> None:
    # Started one after the other: the first takes every shard, then hands the others over.
    wait_for(lambda: sorted(shard_holders(installed).values()) == sorted(
        REPLICAS * (SHARDS // len(REPLICAS))), LEASE_SECONDS * 4, "the shards shared fairly")
    for name in MODELS:
        kubectl(installed, "apply", "-n", namespace, "-f", "-",
                input=json.dumps(model_deployment(name, "s3://models/iris/v1")))
    for name in MODELS:
        wait_ready(installed, namespace, name)
    owner = {name: instances(events) for name, events in events_by(installed, namespace).items()}
    assert all(len(acting) == 1 for acting in owner.values()), owner  # one replica each
    owners = {name: next(iter(acting)) for name, acting in owner.items()}

    # A rollout of every model; the one that acts for the most of them dies in its middle.
    for name in MODELS:
        kubectl(installed, "patch", "md", name, "-n", namespace, "--type=merge",
                "-p", json.dumps({"spec": {"model": {"uri": "s3://models/iris/v2"}}}))
    for name in MODELS:
        wait_for(partial(rollout_started, installed, namespace, name), 60,
                 f"{name}'s rollout started")
    victim = max(REPLICAS, key=lambda r: list(owners.values()).count(r))
    orphans = [name for name, by in owners.items() if by == victim]
    replicas[victim].kill()
    killed_at = time.monotonic()
    for name in MODELS:
        kubectl(installed, "annotate", "md", name, "-n", namespace, "vigia.dev/rollout=promote")
    for name in orphans:
        wait_stable(installed, namespace, name, "v2", timeout=LEASE_SECONDS * 4)
    taken_over = time.monotonic() - killed_at
    for name in MODELS:
        wait_stable(installed, namespace, name, "v2")

    after = events_by(installed, namespace)
    for name, events in after.items():
        promoted = [e for e in events if e["reason"] == reasons.PROMOTED]
        assert len(promoted) == 1, "\n".join(  # acted on once, not by two replicas
            f"{e['firstTimestamp']} {e['reportingInstance']} {e['reason']}: {e['message']}"
            for e in events)
        if name in orphans:
            assert instances(promoted) != {victim}
            # Before the kill only the victim acted, after it only one survivor.
            assert len(instances(events) - {victim}) == 1, (name, instances(events))
        else:
            assert instances(events) == {owners[name]}, (name, instances(events))
    holders = shard_holders(installed)
    assert victim not in holders.values() and set(holders.values()) == set(REPLICAS) - {victim}
    print(f"the killed replica's {len(orphans)} models promoted {taken_over:.1f}s after the kill")

    # A graceful stop hands its shards over at once, without waiting for them to expire.
    leaving, staying = sorted(set(REPLICAS) - {victim})
    replicas[leaving].stop()
    wait_for(lambda: set(shard_holders(installed).values()) == {staying},
             RENEW_SECONDS * 3, f"{leaving}'s shards taken by {staying} before they expire")
