"""Canary rollouts end to end: the operator on the real control plane under its own RBAC,
a real Prometheus scraping real model-server processes labelled stable and canary.

Steps are scaled down (10 s analyses, pauses of seconds, tens of samples); the figures the
same scenario measures are printed by benchmarks/canary.py.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from vigia_testbed.fleet import (
    NAME,
    Fleet,
    apply_md,
    client_for,
    events_after,
    events_of,
    export_version,
    stable_v1,
    status_of,
    wait_status,
)
from vigia_testbed.kube import kubectl
from vigia_testbed.operator import OperatorProcess
from vigia_testbed.prometheus import PrometheusServer

from vigia.sample import DEFECTIVE, GOOD

pytestmark = pytest.mark.integration



@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    work = tmp_path_factory.mktemp("bundles")
    return {
        "v1": export_version(work, "v1", seed=1),
        "v2": export_version(work, "v2", seed=2),
        "bad": export_version(work, "bad", seed=3, wrong_labels=True),
        "careful": export_version(work, "careful", seed=4, constant=DEFECTIVE),
    }


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[PrometheusServer]:
    server = PrometheusServer(tmp_path / "prometheus").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fleet(tmp_path: Path, prometheus: PrometheusServer, namespace: str) -> Iterator[Fleet]:
    servers = Fleet(tmp_path / "servers", prometheus, namespace, NAME)
    try:
        yield servers
    finally:
        servers.stop()


@pytest.fixture
def rollout_operator(operator_config: Path, namespace: str, prometheus: PrometheusServer,
                     tmp_path: Path) -> Iterator[OperatorProcess]:
    process = OperatorProcess(operator_config, tmp_path / "operator.log", [namespace], env={
        "VIGIA_OPERATOR_PROMETHEUS_URL": prometheus.url,
        "VIGIA_OPERATOR_TICK_SECONDS": "1",
    })
    process.start()
    try:
        yield process
    finally:
        process.stop()
        log = process.log()
        assert "is forbidden: User" not in log, log[-4000:]
        assert "Traceback" not in log, log[-4000:]


def test_a_good_canary_is_promoted(installed: Path, namespace: str, fleet: Fleet,
                                   bundles: dict[str, str],
                                   rollout_operator: OperatorProcess) -> None:
    stable_v1(installed, namespace, fleet, bundles)
    fleet.serve("canary", "v2", bundles["v2"])
    client = client_for(fleet, installed, namespace)
    try:
        apply_md(installed, namespace, bundles["v2"], "v2")
        seen_weights: set[tuple[int, int]] = set()

        def promoted(status: dict[str, Any]) -> bool:
            canary = status.get("canary") or {}
            if canary.get("phase") == "Progressing" and canary.get("stepStartedAt"):
                seen_weights.add((canary["weight"], canary["achievedWeight"]))
            return (status.get("stable") or {}).get("version") == "v2"

        status = wait_status(installed, namespace, promoted, 240, "v2 promoted")
    finally:
        client.stop()
    assert not status.get("canary")
    assert status["history"][0]["version"] == "v2" and status["history"][0]["outcome"] == (
        "Promoted")
    # 1 canary pod of 4 is 25%; 2 of 4 is 50%: the achieved weight is the replica ratio
    # (below the requested one for a moment, while the stable has not given up its pod).
    assert {(25, 25), (50, 50)} <= seen_weights, seen_weights
    assert all(achieved <= requested for requested, achieved in seen_weights), seen_weights
    posted = events_after(installed, namespace, "Promoted")
    assert {"RolloutStarted", "RolloutStep", "Promoting"} <= {e["reason"] for e in posted}
    step = next(e for e in posted if e["reason"] == "RolloutStep")
    # The gates nearest their limits, with their numbers (all of them in lastAnalysis).
    assert "Pass: " in step["message"] and " ≤ " in step["message"], step["message"]
    assert client.sent.get("canary", 0) > 0


def test_lower_accuracy_is_rolled_back_within_failure_limit(
        installed: Path, namespace: str, fleet: Fleet, bundles: dict[str, str],
        rollout_operator: OperatorProcess) -> None:
    stable_v1(installed, namespace, fleet, bundles)
    fleet.serve("canary", "bad", bundles["bad"])
    client = client_for(fleet, installed, namespace)
    try:
        apply_md(installed, namespace, bundles["bad"], "bad",
               steps=[{"weight": 25, "pause": "5m"}])
        status = wait_status(
            installed, namespace,
            lambda s: bool(s.get("history")) and s["history"][0]["version"] == "bad",
            240, "bad rolled back")
    finally:
        client.stop()
    entry = status["history"][0]
    assert entry["outcome"] == "RolledBack"
    assert "2 failed analyses (failureLimit 2)" in entry["message"]
    assert "accuracyDrop" in entry["message"]
    assert (status.get("stable") or {}).get("version") == "v1"
    failed = [e for e in events_after(installed, namespace, "RolledBack")
              if e["reason"] == "AnalysisFailed"]
    assert len(failed) == 2 and all(e["type"] == "Warning" for e in failed)
    stable = json.loads(kubectl(installed, "get", "deployment", f"{NAME}-stable", "-n",
                                namespace, "-o", "json"))
    assert stable["spec"]["replicas"] == 4
    assert stable["spec"]["template"]["metadata"]["annotations"]["vigia.dev/model-uri"] == (
        bundles["v1"])


# A defective sobao passed as good costs 30; a good one thrown away costs 1.
COSTS = {"unit": "EUR per 1,000 cakes", "errors": [
    {"predicted": GOOD, "actual": DEFECTIVE, "cost": 30},
    {"predicted": DEFECTIVE, "actual": GOOD, "cost": 1}]}


def test_more_accurate_but_costlier_is_rolled_back_by_its_cost(
        installed: Path, namespace: str, fleet: Fleet, bundles: dict[str, str],
        rollout_operator: OperatorProcess) -> None:
    """Stable: a model that discards every sobao (22% accurate on this line, about 780 EUR
    per 1,000); canary: the sample model (87% accurate) whose misses are defective ones
    passed (about 3,200 EUR per 1,000). The accuracy gate would promote it; the cost gate
    rolls it back, with the numbers in the unit. predictionShift is skipped: the two
    models' class mixes differ by construction."""
    spec: dict[str, Any] = {"monitoring": {"costs": COSTS},
                            "skipGates": ["predictionShift"]}
    stable_v1(installed, namespace, fleet, {"v1": bundles["careful"]}, **spec)
    fleet.serve("canary", "v2", bundles["v2"])
    client = client_for(fleet, installed, namespace)
    try:
        apply_md(installed, namespace, bundles["v2"], "v2", **spec)
        failures: list[dict[str, Any]] = []

        def ended(status: dict[str, Any]) -> bool:
            analysis = (status.get("canary") or {}).get("lastAnalysis") or {}
            if analysis.get("verdict") == "Fail" and analysis not in failures:
                failures.append(analysis)
            return bool(status.get("history")) and status["history"][0]["version"] == "v2"

        status = wait_status(installed, namespace, ended, 240, "v2 rolled back")
    finally:
        client.stop()
    entry = status["history"][0]
    assert entry["outcome"] == "RolledBack", entry
    assert "costIncrease" in entry["message"] and "EUR per 1,000 cakes > 0" in entry["message"]
    assert (status.get("stable") or {}).get("version") == "v1"
    failed = [e for e in events_after(installed, namespace, "RolledBack")
              if e["reason"] == "AnalysisFailed"]
    assert failed and all("costIncrease" in e["message"] for e in failed), failed
    assert failures, "no failed analysis seen in status.canary.lastAnalysis"
    for analysis in failures:
        gates = {g["name"]: g for g in analysis["gates"]}
        assert gates["costIncrease"]["verdict"] == "Fail" and gates["costIncrease"]["value"] > 0
        assert gates["costIncrease"]["unit"] == COSTS["unit"]
        # More accurate than the stable: the accuracy gate never fails it.
        assert gates["accuracyDrop"]["verdict"] != "Fail", gates


def test_no_traffic_is_inconclusive_and_never_promoted(
        installed: Path, namespace: str, fleet: Fleet, bundles: dict[str, str],
        rollout_operator: OperatorProcess) -> None:
    stable_v1(installed, namespace, fleet, bundles)
    fleet.serve("canary", "v2", bundles["v2"])
    apply_md(installed, namespace, bundles["v2"], "v2")
    status = wait_status(
        installed, namespace,
        lambda s: bool((s.get("canary") or {}).get("stepStartedAt"))
        and ((s.get("canary") or {}).get("lastAnalysis") or {}).get("verdict")
        == "Inconclusive", 120, "an Inconclusive analysis of a ready canary")
    time.sleep(35)  # three more analysis intervals without a request
    status = status_of(installed, namespace)
    canary = status["canary"]
    assert canary["phase"] == "Progressing" and canary["step"] == 0
    assert canary["lastAnalysis"]["verdict"] == "Inconclusive"
    assert canary["lastAnalysis"]["noData"] is True
    assert "(0/40 canary requests" in canary["message"], canary["message"]
    assert status["stable"]["version"] == "v1"
    assert not any(h.get("outcome") == "Promoted" for h in status.get("history") or [])
    waiting = [e for e in events_of(installed, namespace) if e["reason"] == "WaitingForData"]
    assert len(waiting) == 1


def test_operator_killed_mid_rollout_resumes_at_the_same_step(
        installed: Path, namespace: str, fleet: Fleet, bundles: dict[str, str],
        rollout_operator: OperatorProcess) -> None:
    stable_v1(installed, namespace, fleet, bundles)
    fleet.serve("canary", "v2", bundles["v2"])
    client = client_for(fleet, installed, namespace)
    try:
        apply_md(installed, namespace, bundles["v2"], "v2",
               steps=[{"weight": 25, "pause": "10s"}, {"weight": 50, "pause": "40s"}])
        before = wait_status(
            installed, namespace,
            lambda s: (s.get("canary") or {}).get("step") == 1
            and bool((s.get("canary") or {}).get("stepStartedAt")), 180, "step 2 reached")
        rollout_operator.kill()
        time.sleep(5)
        rollout_operator.start()
        time.sleep(5)
        after = status_of(installed, namespace)
        assert after["canary"]["step"] == 1
        assert after["canary"]["startedAt"] == before["canary"]["startedAt"]
        assert after["canary"]["stepStartedAt"] == before["canary"]["stepStartedAt"]
        status = wait_status(installed, namespace,
                              lambda s: (s.get("stable") or {}).get("version") == "v2", 180,
                              "v2 promoted after the restart")
    finally:
        client.stop()
    assert status["history"][0]["outcome"] == "Promoted"
    started = [e for e in events_after(installed, namespace, "Promoted")
               if e["reason"] == "RolloutStarted"]
    assert len(started) == 1  # resumed, not restarted
