"""What `kubectl describe md` says, read with the real kubectl from the real API server
while the operator runs under its RBAC: every condition and Event message one sentence
under 200 characters; a canary brought in by a rollout is Created, not Restored; a
healthy rollout posts no Warning."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from vigia_operator.core import reasons
from vigia_testbed.kube import kubectl, wait_for
from vigia_testbed.operator import (
    OperatorProcess,
    model_deployment,
    wait_ready,
    wait_stable,
)

from tests.integration.operator.test_operator import apply, events, get, has_event

pytestmark = pytest.mark.integration

MAX_MESSAGE = 200


def one_sentence(message: str) -> bool:
    return len(message) < MAX_MESSAGE and message.rstrip(".").count(". ") == 0


def described_events(kubeconfig: Path, namespace: str, name: str) -> list[tuple[str, str, str]]:
    """(type, reason, message) of the Events table `kubectl describe` prints."""
    text = kubectl(kubeconfig, "describe", "md", name, "-n", namespace)
    table = text.split("\nEvents:", 1)[1].splitlines()[3:]
    rows = [re.split(r"\s{2,}", line.strip(), maxsplit=4) for line in table if line.strip()]
    return [(row[0], row[1], row[4]) for row in rows if len(row) == 5]


def test_a_healthy_rollout_described_is_sentences_and_no_warning(
    installed: Path, namespace: str, operator: OperatorProcess
) -> None:
    """A canary started, promoted by hand and rolled out: the canary Deployment's first
    creation is Created (not Restored), the promotion's roll is no NotReady Warning."""
    apply(installed, namespace, model_deployment("desc", "s3://models/desc/v1"))
    wait_ready(installed, namespace, "desc")
    kubectl(installed, "patch", "md", "desc", "-n", namespace, "--type=merge",
            "-p", json.dumps({"spec": {"model": {"uri": "s3://models/desc/v2"}}}))
    wait_for(lambda: has_event(installed, namespace, "desc", reasons.CREATED, "desc-canary"),
             60, "the canary Deployment Created")
    kubectl(installed, "annotate", "md", "desc", "-n", namespace, "vigia.dev/rollout=promote")
    wait_stable(installed, namespace, "desc", "v2")
    wait_ready(installed, namespace, "desc")
    wait_for(lambda: has_event(installed, namespace, "desc", reasons.PROMOTED), 60,
             "Promoted Event")

    posted = described_events(installed, namespace, "desc")
    assert posted, "kubectl describe printed no Events"
    assert [(r, m) for t, r, m in posted if t == reasons.WARNING] == []
    assert reasons.RESTORED not in {r for _, r, _ in posted}
    for _, reason, message in posted:
        assert one_sentence(message), (reason, message)
    # The Events API holds the messages whole (describe may shorten a column).
    for event in events(installed, namespace, "desc"):
        assert one_sentence(event["message"]), event
    for cond in get(installed, namespace, "md", "desc")["status"]["conditions"]:
        assert one_sentence(cond["message"]), cond
