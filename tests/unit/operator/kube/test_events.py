from __future__ import annotations

from vigia_operator.core.text import MAX_MESSAGE
from vigia_operator.kube.events import build_event

from tests.unit.operator.schema import defaulted_sample


def test_event_refers_to_the_model_deployment() -> None:
    md = defaulted_sample()
    event = build_event(md, "Warning", "Restored", "x" * 5000, "2026-01-01T00:00:00Z", "pod-1")
    assert event["involvedObject"] == {
        "apiVersion": "vigia.dev/v1alpha1", "kind": "ModelDeployment", "name": "sobaos",
        "namespace": "ml", "uid": md["metadata"]["uid"],
    }
    assert event["metadata"] == {"generateName": "sobaos.", "namespace": "ml"}
    assert (event["type"], event["reason"]) == ("Warning", "Restored")
    assert len(event["message"]) < MAX_MESSAGE and event["message"].endswith("…")
    assert event["firstTimestamp"] == event["lastTimestamp"] == "2026-01-01T00:00:00Z"
