"""The status writer: what it sends, and when it sends nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from vigia_operator.core import reasons
from vigia_operator.core.types import Event
from vigia_operator.engine.reconcile import at_version
from vigia_operator.kube.client import KubeError
from vigia_operator.status.sections import SectionUpdate, StatusUpdate
from vigia_operator.status.writer import StatusWriter, merge_patch

BODY: dict[str, Any] = {
    "metadata": {"namespace": "shop", "name": "iris", "uid": "u1", "resourceVersion": "7"},
    "status": {
        "observedGeneration": 2,
        "conditions": [],
        "canary": {"version": "v2", "step": 0, "stepStartedAt": "t0"},
        "stable": {"version": "v1"},
    },
}


class RecordingKube:
    def __init__(self) -> None:
        self.patches: list[dict[str, Any]] = []

    async def patch_status(self, namespace: str, name: str,
                           patch: Mapping[str, Any]) -> dict[str, Any]:
        self.patches.append(dict(patch))
        return {}


async def no_events(body: Mapping[str, Any], event: Event) -> None:
    return None


def test_a_field_dropped_from_a_section_is_sent_as_null() -> None:
    patch = merge_patch({"canary": {"step": 0, "stepStartedAt": "t0"}, "old": {"a": 1}},
                        {"canary": {"step": 1}})
    assert patch == {"canary": {"step": 1, "stepStartedAt": None}, "old": None}


def test_lists_are_sent_whole() -> None:
    patch = merge_patch({"history": [{"version": "v1", "x": 1}]},
                        {"history": [{"version": "v1"}]})
    assert patch == {"history": [{"version": "v1"}]}


def _write(update: StatusUpdate) -> list[dict[str, Any]]:
    kube = RecordingKube()
    writer = StatusWriter(kube, no_events)
    asyncio.run(writer.write(BODY, update))
    return kube.patches


def test_a_step_that_ends_clears_its_start_time() -> None:
    """A step's start dropped from status.canary is a change, written as a deletion (the
    next step's pause must not count from the previous step's start)."""
    canary = {"version": "v2", "step": 1}
    patches = _write(StatusUpdate((SectionUpdate("canary", canary),), observed_generation=2))
    assert len(patches) == 1
    assert patches[0]["canary"] == {"version": "v2", "step": 1, "stepStartedAt": None}


def test_an_unchanged_status_is_not_written() -> None:
    canary = dict(BODY["status"]["canary"])
    patches = _write(StatusUpdate((SectionUpdate("canary", canary),), observed_generation=2))
    assert patches == []


class RefusingKube:
    async def patch_status(self, namespace: str, name: str,
                           patch: Mapping[str, Any]) -> dict[str, Any]:
        raise KubeError(422, "Invalid", 'status.monitoring.window: Invalid value: "5x"')


def test_a_refused_status_is_said_once_not_retried() -> None:
    posted: list[Event] = []

    async def post(body: Mapping[str, Any], event: Event) -> None:
        posted.append(event)

    writer = StatusWriter(RefusingKube(), post)
    update = StatusUpdate((SectionUpdate("canary", {"version": "v3"}),), observed_generation=2)
    for _ in range(3):  # every tick tries again; the API server refuses again
        assert asyncio.run(writer.write(BODY, update)) is False
    assert [(e.type, e.reason) for e in posted] == [(reasons.WARNING, reasons.STATUS_REFUSED)]
    assert "status.monitoring.window" in posted[0].message


def test_a_status_written_after_our_own_metadata_patch_is_current_at_its_version() -> None:
    """The engine removes a consumed command (a new resourceVersion, the status unchanged)
    before it writes the status: a reconcile reading the object at that version decides on
    the status written, not on the one it replaced (which lost a `promote`)."""
    writer = StatusWriter(RecordingKube(), no_events)
    cleared = at_version(BODY, {"metadata": {"resourceVersion": "8"}})
    promoting = {"version": "v2", "phase": "Promoting"}
    update = StatusUpdate((SectionUpdate("canary", promoting),), observed_generation=2)
    asyncio.run(writer.write(cleared, update))
    assert writer.current(cleared)["canary"] == promoting
    assert cleared["status"] == BODY["status"] and BODY["metadata"]["resourceVersion"] == "7"
    assert at_version(BODY, {"metadata": {}}) is BODY


def test_a_body_showing_our_earlier_write_is_not_current_after_a_later_one() -> None:
    """Two writes before the watch caught up: the body it delivers next shows the first,
    and deciding from it again would repeat the second decision and its Events."""
    posted: list[Event] = []

    async def post(body: Mapping[str, Any], event: Event) -> None:
        posted.append(event)

    writer = StatusWriter(RecordingKube(), post)
    promoting = {"version": "v2", "phase": "Promoting"}
    asyncio.run(writer.write(BODY, StatusUpdate((SectionUpdate("canary", promoting),),
                                                observed_generation=2)))
    first = writer.current(BODY)
    asyncio.run(writer.write(BODY, StatusUpdate((SectionUpdate("stable", {"version": "v2"}),),
                                                observed_generation=2)))
    latest = writer.current(BODY)
    assert latest["stable"] == {"version": "v2"}
    delivered = at_version({**BODY, "status": first}, {"metadata": {"resourceVersion": "9"}})
    assert writer.current(delivered) == latest
    caught_up = at_version({**BODY, "status": latest}, {"metadata": {"resourceVersion": "10"}})
    assert writer.current(caught_up) == latest
    theirs = {**latest, "phase": "Edited"}  # a status written by someone else is believed
    assert writer.current({**BODY, "status": theirs}) == theirs
