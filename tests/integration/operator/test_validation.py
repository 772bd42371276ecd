"""Mistakes in a ModelDeployment are refused by the API server, naming the field."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from vigia_testbed.kube import KubectlError, kubectl
from vigia_testbed.operator import model_deployment

pytestmark = pytest.mark.integration

VALID = model_deployment("ok", "s3://models/iris/v1")
# Issue 28: a regressor is judged by its errors, in its units.
REGRESSOR = model_deployment("weights", "s3://models/weights/v1",
                             monitoring={"error": {"tolerance": 5, "unit": "kg"}},
                             rollout={"analysis": {"gates": {"maxErrorIncrease": 0.03}}})
REGRESSOR["spec"]["model"]["task"] = "Regression"


def _with(path: str, value: Any, base: dict[str, Any] = VALID) -> dict[str, Any]:
    obj = copy.deepcopy(base)
    *parents, last = path.split(".")
    target = obj
    for key in parents:
        target = target.setdefault(key, {})
    target[last] = value
    return obj


MISTAKES: dict[str, tuple[dict[str, Any], str]] = {
    "wrong type": (_with("spec.serving.replicas", "two"), "spec.serving.replicas"),
    "out of range": (_with("spec.serving.replicas", 0), "spec.serving.replicas"),
    "weight above 100": (_with("spec.rollout.steps", [{"weight": 150}]),
                         "spec.rollout.steps[0].weight"),
    "weights not rising": (_with("spec.rollout.steps", [{"weight": 50}, {"weight": 10}]),
                           "spec.rollout.steps"),
    "bad pause": (_with("spec.rollout.steps", [{"weight": 10, "pause": "2 minutes"}]),
                  "spec.rollout.steps[0].pause"),
    "bad cron": (_with("spec.retraining.triggers", {"schedule": "61 * * * *"}),
                 "spec.retraining.triggers.schedule"),
    "bad digest": (_with("spec.model.digest", "sha256:1234"), "spec.model.digest"),
    "unknown field": (_with("spec.model.url", "s3://x/y"), "spec.model.url"),
    "missing uri": (_with("spec.model", {"digest": "sha256:" + "a" * 64}), "spec.model.uri"),
    "uri without scheme": (_with("spec.model.uri", "/models/iris"), "spec.model.uri"),
    "bad enum": (_with("spec.rollout.analysis", {"onNoData": "Maybe"}),
                 "spec.rollout.analysis.onNoData"),
    "router without route": (_with("spec.rollout.traffic", {"router": "GatewayAPI"}),
                             "spec.rollout.traffic.httpRoute"),
    # Issue 21: the dataset URI is under the model URI's policy (the Job would fetch it).
    "dataset over http": (_with("spec.retraining", {"enabled": True, "dataset": {
        "uri": "http://169.254.169.254/latest/meta-data/creds.csv", "target": "y"}}),
        "spec.retraining.dataset.uri"),
    "dataset outside its claim": (_with("spec.retraining", {"enabled": True, "dataset": {
        "uri": "pvc://data/../x.csv", "target": "y"}}), "spec.retraining.dataset.uri"),
    "chained dataset uri": (_with("spec.retraining", {"enabled": True, "dataset": {
        "uri": "s3://b/d.csv::http://10.0.0.1/x.csv", "target": "y"}}),
        "spec.retraining.dataset.uri"),
    "chained model uri": (_with("spec.model.uri", "file::http://10.0.0.1/m"), "spec.model.uri"),
    "retraining without data": (_with("spec.retraining", {"enabled": True}),
                                "spec.retraining.dataset"),
    "requests above limits": (_with("spec.serving.resources",
                                    {"requests": {"memory": "2Gi"}, "limits": {"memory": "1Gi"}}),
                              "spec.serving.resources.requests.memory"),
    "bad quantity": (_with("spec.serving.resources", {"limits": {"cpu": "lots"}}),
                     "spec.serving.resources.limits.cpu"),
    "replicas without shared store": (_with("spec.serving.replicas", 3),
                                      "spec.serving.predictionLog.storeSecretRef"),
    "kpi min above max": (_with("spec.monitoring.kpis",
                                [{"name": "k", "query": "up", "min": 2, "max": 1}]),
                          "spec.monitoring.kpis[0].min"),
    "cost of a correct prediction": (_with("spec.monitoring.costs", {"errors": [
        {"predicted": "good", "actual": "good", "cost": 1}]}),
        "spec.monitoring.costs.errors[0].actual"),
    "two costs for one error": (_with("spec.monitoring.costs", {"errors": [
        {"predicted": "good", "actual": "defective", "cost": 10},
        {"predicted": "good", "actual": "defective", "cost": 3}]}),
        "spec.monitoring.costs.errors"),
    "negative cost": (_with("spec.monitoring.costs", {"errors": [
        {"predicted": "good", "actual": "defective", "cost": -1}]}),
        "spec.monitoring.costs.errors[0].cost"),
    "costs without errors": (_with("spec.monitoring.costs", {"unit": "EUR"}),
                             "spec.monitoring.costs.errors"),
    "negative cost gate": (_with("spec.rollout.analysis", {"gates": {"costIncrease": -1}}),
                           "spec.rollout.analysis.gates.costIncrease"),
    "negative retraining cost limit": (_with("spec.retraining", {
        "enabled": True, "dataset": {"uri": "s3://b/d.csv", "target": "y"},
        "gate": {"maxCostIncrease": -5}}), "spec.retraining.gate.maxCostIncrease"),
    "zero confidence shift alpha": (_with("spec.monitoring.confidence", {"shift": {"alpha": 0}}),
                                    "spec.monitoring.confidence.shift.alpha"),
    "zero drift threshold": (_with("spec.monitoring.drift", {"threshold": 0}),
                             "spec.monitoring.drift.threshold"),
    "interval too short": (_with("spec.monitoring.interval", "1s"), "spec.monitoring.interval"),
    "name too long": (_with("metadata.name", "m" * 60), "metadata.name"),
    "accuracy gate on a regressor": (
        _with("spec.rollout.analysis.gates.accuracyDrop", 0.02, REGRESSOR),
        "spec.rollout.analysis.gates.accuracyDrop"),
    "minimum accuracy of a regressor": (_with("spec.monitoring.accuracy.min", 0.9, REGRESSOR),
                                        "spec.monitoring.accuracy.min"),
    "error limits on a classifier": (_with("spec.monitoring.error", {"tolerance": 5}),
                                     "spec.monitoring.error"),
    "error gate on a classifier": (_with("spec.rollout.analysis.gates.maxErrorIncrease", 0.02),
                                   "spec.rollout.analysis.gates.maxErrorIncrease"),
    "zero tolerance": (_with("spec.monitoring.error.tolerance", 0, REGRESSOR),
                       "spec.monitoring.error.tolerance"),
    "unknown task": (_with("spec.model.task", "Clustering"), "spec.model.task"),
    "bad secret name": (_with("spec.serving.predictionLog",
                              {"storeSecretRef": {"name": "Not_A_Name", "key": "url"}}),
                        "spec.serving.predictionLog.storeSecretRef.name"),
}


def _create(kubeconfig: Path, namespace: str, obj: dict[str, Any]) -> str:
    return kubectl(kubeconfig, "create", "-n", namespace, "--dry-run=server", "-f", "-",
                   input=json.dumps(obj))


def test_the_valid_one_is_accepted(installed: Path, namespace: str) -> None:
    assert "created" in _create(installed, namespace, VALID)
    for uri in ("pvc://data/sobaos/train.csv", "s3://data/train.csv", "file:///data/t.csv"):
        dataset = {"enabled": True, "dataset": {"uri": uri, "target": "y"}}
        assert "created" in _create(installed, namespace, _with("spec.retraining", dataset))
    costs = {"unit": "EUR per 1,000 cakes", "max": 300, "errors": [
        {"predicted": "good", "actual": "defective", "cost": 10},
        {"predicted": "defective", "actual": "good", "cost": 1}]}
    assert "created" in _create(installed, namespace, _with("spec.monitoring.costs", costs))
    page = _with("spec.serving.browserPage", {"enabled": True})
    assert "created" in _create(installed, namespace, page)
    assert "created" in _create(installed, namespace, REGRESSOR)


def test_the_accuracy_gate_refusal_says_what_judges_a_regressor(
    installed: Path, namespace: str,
) -> None:
    obj, _ = MISTAKES["accuracy gate on a regressor"]
    with pytest.raises(KubectlError) as refused:
        _create(installed, namespace, obj)
    assert "a regressor (model.task Regression) has no accuracy" in refused.value.stderr
    assert "gates.maxErrorIncrease" in refused.value.stderr


def test_the_dataset_uri_refusal_says_the_policy(installed: Path, namespace: str) -> None:
    obj, _ = MISTAKES["dataset over http"]
    with pytest.raises(KubectlError) as refused:
        _create(installed, namespace, obj)
    assert "must be a file://, s3:// or pvc://CLAIM/path URI" in refused.value.stderr


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_mistake_is_refused_naming_the_field(installed: Path, namespace: str,
                                             mistake: str) -> None:
    obj, field = MISTAKES[mistake]
    with pytest.raises(KubectlError) as refused:
        _create(installed, namespace, obj)
    assert field in refused.value.stderr, refused.value.stderr
