"""Leader election's pure part: when a Lease may be taken."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from vigia_operator.engine.leader import LEASE_SECONDS, Standalone, expired

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


def _renewed(seconds_ago: float) -> dict[str, object]:
    at = NOW - timedelta(seconds=seconds_ago)
    return {"renewTime": at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "leaseDurationSeconds": LEASE_SECONDS}


def test_a_lease_is_held_until_its_duration_has_passed() -> None:
    assert not expired(_renewed(1), NOW)
    assert not expired(_renewed(LEASE_SECONDS - 1), NOW)
    assert expired(_renewed(LEASE_SECONDS + 1), NOW)
    assert expired({}, NOW)  # never renewed


def test_standalone_is_always_the_leader() -> None:
    assert Standalone().is_leader
