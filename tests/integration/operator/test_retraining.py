"""Retraining on a real control plane: the operator (its own process, its own RBAC) with
a real SignalProvider fed from a file (tests/integration/operator/with_signals.py) that
hands it the Drifted condition. On kwok a Job's pod does not run `vigia-retrain`: the
result path is tested on real termination messages in test_retraining_result.py."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from vigia_operator.core import reasons
from vigia_testbed.kube import wait_for
from vigia_testbed.operator import OperatorProcess, model_deployment

from tests.integration.operator.test_operator import apply, events, get
from tests.integration.operator.with_signals import SIGNALS_FILE

pytestmark = pytest.mark.integration
OWNER = "vigia.dev/model-deployment"
TICK = 2


@pytest.fixture
def signals(tmp_path: Path) -> Path:
    return tmp_path / "signals.json"


@pytest.fixture
def retrain_operator(operator_config: Path, namespace: str, tmp_path: Path,
                     signals: Path) -> Iterator[OperatorProcess]:
    process = OperatorProcess(operator_config, tmp_path / "operator.log", [namespace],
                              env={"VIGIA_OPERATOR_TICK_SECONDS": str(TICK),
                                   SIGNALS_FILE: str(signals)},
                              module="tests.integration.operator.with_signals")
    process.start()
    try:
        yield process
    finally:
        process.stop()
        log = process.log()
        assert "is forbidden: User" not in log, log[-4000:]
        assert "Traceback" not in log, log[-4000:]


def drift(signals: Path, namespace: str, name: str, drifted: bool) -> None:
    conditions = [{"type": "Drifted", "status": "True" if drifted else "False",
                   "reason": "FeaturesDrifted" if drifted else "NoDrift",
                   "message": "psi 0.31 > 0.20 on sugar_ratio" if drifted else "psi 0.02"}]
    tmp = signals.with_suffix(".tmp")
    tmp.write_text(json.dumps({f"{namespace}/{name}": conditions}))
    os.replace(tmp, signals)


def retraining(name: str, **extra: Any) -> dict[str, Any]:
    # Without a store (no storeSecretRef) only retraining on the base dataset may start.
    spec = {"enabled": True, "cooldown": "1h", "includeFeedback": False,
            "dataset": {"uri": "s3://data/sobaos.csv", "target": "quality"}, **extra}
    return model_deployment(name, retraining=spec)


def jobs(kubeconfig: Path, namespace: str, name: str) -> list[dict[str, Any]]:
    return list(get(kubeconfig, namespace, "jobs", "-l", f"{OWNER}={name}")["items"])


def retraining_status(kubeconfig: Path, namespace: str, name: str) -> dict[str, Any]:
    md = get(kubeconfig, namespace, "md", name)
    return dict((md.get("status") or {}).get("retraining") or {})


def event(kubeconfig: Path, namespace: str, name: str, reason: str) -> dict[str, Any] | None:
    return next((e for e in events(kubeconfig, namespace, name) if e["reason"] == reason), None)


def test_drift_starts_exactly_one_job_and_cooldown_holds(
    installed: Path, namespace: str, signals: Path, retrain_operator: OperatorProcess
) -> None:
    name = "drifty"
    drift(signals, namespace, name, drifted=True)
    apply(installed, namespace, retraining(name, triggers={"drift": True, "accuracy": False}))
    (job,) = wait_for(lambda: jobs(installed, namespace, name), 60, "a retraining Job")
    started = wait_for(lambda: event(installed, namespace, name, reasons.RETRAINING_STARTED),
                       30, "RetrainingStarted Event")
    assert job["metadata"]["name"] in started["message"] and "psi 0.31" in started["message"]
    assert job["metadata"]["name"].startswith(f"{name}-drift-")
    # The API server accepted the builder's Job: restricted, bounded, owned.
    assert job["spec"]["podFailurePolicy"]["rules"][0]["action"] == "FailJob"
    assert job["metadata"]["ownerReferences"][0]["kind"] == "ModelDeployment"
    status = wait_for(lambda: retraining_status(installed, namespace, name).get("job") and
                      retraining_status(installed, namespace, name), 30, "status.retraining")
    assert status["job"] == job["metadata"]["name"]
    assert status["lastTrigger"]["reason"] == reasons.TRIGGER_DRIFT
    assert "psi 0.31" in status["lastTrigger"]["message"] and status["cooldownUntil"]
    assert status["runs"][0]["job"] == job["metadata"]["name"]

    # The drift persists within the cooldown: one skip with the numbers, not one a tick.
    skipped = wait_for(lambda: event(installed, namespace, name, reasons.RETRAINING_SKIPPED),
                       30, "RetrainingSkipped Event")
    assert "Cooldown" in skipped["message"] and "s left" in skipped["message"]
    assert "3600s" in skipped["message"] and "psi 0.31" in skipped["message"]
    assert retraining_status(installed, namespace, name)["lastSkip"]["reason"] == (
        reasons.SKIP_COOLDOWN)
    # It goes, then a second drift comes within the cooldown: skipped and reported again.
    drift(signals, namespace, name, drifted=False)
    wait_for(lambda: "lastSkip" not in retraining_status(installed, namespace, name),
             30, "a calm tick")
    drift(signals, namespace, name, drifted=True)
    wait_for(lambda: len(skip_events(installed, namespace, name)) == 2, 30,
             "a second RetrainingSkipped Event")
    time.sleep(3 * TICK)
    assert [j["metadata"]["name"] for j in jobs(installed, namespace, name)] == [
        job["metadata"]["name"]]
    assert len(skip_events(installed, namespace, name)) == 2


def skip_events(kubeconfig: Path, namespace: str, name: str) -> list[dict[str, Any]]:
    return [e for e in events(kubeconfig, namespace, name)
            if e["reason"] == reasons.RETRAINING_SKIPPED]


def test_a_due_schedule_starts_a_job(
    installed: Path, namespace: str, signals: Path, retrain_operator: OperatorProcess
) -> None:
    name = "weekly"
    drift(signals, namespace, name, drifted=False)
    apply(installed, namespace, retraining(
        name, triggers={"drift": True, "accuracy": True, "schedule": "* * * * *"}))
    planned = wait_for(lambda: retraining_status(installed, namespace, name).get(
        "nextScheduled"), 30, "status.retraining.nextScheduled")
    (job,) = wait_for(lambda: jobs(installed, namespace, name), 90, "a scheduled Job")
    assert job["metadata"]["name"].startswith(f"{name}-schedule-")
    assert job["metadata"]["labels"]["vigia.dev/retrain-trigger"] == reasons.TRIGGER_SCHEDULE
    status = wait_for(lambda: retraining_status(installed, namespace, name).get("job") and
                      retraining_status(installed, namespace, name), 30, "status.retraining")
    assert status["lastTrigger"]["reason"] == reasons.TRIGGER_SCHEDULE
    # The first run counts from creation: the first nextScheduled seen is that run, or the
    # one after it when the first tick came after the minute turned and started it at once.
    (due,) = re.findall(r"was due at (\S+)", status["lastTrigger"]["message"])
    created = get(installed, namespace, "md", name)["metadata"]["creationTimestamp"]
    assert created <= due <= planned
    assert status["nextScheduled"] > due
