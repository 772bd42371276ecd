"""One object must never stop the others (issue 21), on a real control plane: the operator
(its own process and RBAC) with a ModelDeployment whose retraining schedule the CRD and
croniter accept but which never fires, beside a healthy one. Before, the first tick raised
and died: nothing restarted it, liveness stayed green, and no other ModelDeployment was
monitored or retrained again."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from vigia_operator.core import reasons
from vigia_testbed.kube import wait_for
from vigia_testbed.operator import OperatorProcess

from tests.integration.operator.test_operator import apply, get
from tests.integration.operator.test_retraining import (  # noqa: F401 (fixtures)
    drift,
    event,
    jobs,
    retrain_operator,
    retraining,
    retraining_status,
    signals,
)

pytestmark = pytest.mark.integration
NEVER_FIRES = "0 0 31 2 *"
FIELD = "spec.retraining.triggers.schedule"


def condition(kubeconfig: Path, namespace: str, name: str,
              type_: str) -> dict[str, Any] | None:
    status = get(kubeconfig, namespace, "md", name).get("status") or {}
    return next((c for c in status.get("conditions") or [] if c["type"] == type_), None)


def test_a_poisoned_schedule_is_its_objects_condition_and_the_others_go_on(
    installed: Path, namespace: str, signals: Path,  # noqa: F811
    retrain_operator: OperatorProcess,  # noqa: F811
) -> None:
    apply(installed, namespace, retraining("poisoned", triggers={"schedule": NEVER_FIRES}))
    apply(installed, namespace, retraining("healthy", triggers={"drift": True,
                                                                "schedule": "0 3 * * 1"}))

    # The healthy one goes on across ticks: its schedule is planned on a tick, then a drift
    # handed to a later tick starts its retraining Job.
    wait_for(lambda: retraining_status(installed, namespace, "healthy").get("nextScheduled"),
             60, "the healthy model's next scheduled run (a tick's decision)")
    drift(signals, namespace, "healthy", drifted=True)
    (job,) = wait_for(lambda: jobs(installed, namespace, "healthy"), 60,
                      "a retraining Job for the healthy model")
    assert job["metadata"]["name"].startswith("healthy-drift-")

    # The poisoned one: refused (its spec is not acted on), with a condition and a Warning
    # Event naming the field and why; no Job, no schedule planned.
    refused = wait_for(
        lambda: (c := condition(installed, namespace, "poisoned", reasons.DEGRADED))
        and c["reason"] == reasons.INVALID_SPEC and c, 60, "the Degraded condition")
    assert refused["status"] == "True"
    assert refused["message"].startswith(FIELD) and "never fires" in refused["message"]
    said = wait_for(lambda: event(installed, namespace, "poisoned", reasons.INVALID_SPEC),
                    30, "the InvalidSpec Event")
    assert FIELD in said["message"] and said["type"] == "Warning"
    assert jobs(installed, namespace, "poisoned") == []
    assert "nextScheduled" not in retraining_status(installed, namespace, "poisoned")
    # The supervised tick reports on liveness, and it completes.
    probes = retrain_operator.probes()
    assert isinstance(probes.get("tick"), float | int)


def test_a_tick_that_cannot_complete_is_restarted_then_fails_liveness(
    operator_config: Path, namespace: str, tmp_path: Path,
) -> None:
    # Ticks every second, budgets of 1 s: liveness allows 5 intervals + 2 budgets = 7 s.
    process = OperatorProcess(
        operator_config, tmp_path / "operator.log", [namespace],
        env={"VIGIA_OPERATOR_TICK_SECONDS": "1", "VIGIA_OPERATOR_RECONCILE_BUDGET_SECONDS": "1",
             "VIGIA_OPERATOR_COLLECT_BUDGET_SECONDS": "1"},
        module="tests.integration.operator.with_broken_tick")
    process.start()  # alive at first: no tick was due yet
    try:
        wait_for(lambda: process.log().count("The tick crashed; restarting it") >= 2, 60,
                 "the supervisor restarting the tick")
        wait_for(lambda: liveness_code(process) == 500, 60, "liveness failing")
    finally:
        process.stop()
    assert "no tick completed for" in process.log()


def liveness_code(process: OperatorProcess) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{process.port}/healthz", timeout=5) as r:
            return int(r.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
