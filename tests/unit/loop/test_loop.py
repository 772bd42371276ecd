"""The closed loop's pure parts: its ModelDeployment, its traffic command, its timeline."""

from __future__ import annotations

import jsonschema
import pytest
from vigia_loop import loop
from vigia_loop.scale import SCALES
from vigia_loop.timeline import Step, Timeline
from vigia_operator.view import parse
from vigia_operator.view.retraining import parse_retraining
from vigia_operator.view.rollout import parse_rollout

from tests.unit.operator import schema as s


@pytest.mark.parametrize("name", sorted(SCALES))
def test_the_model_deployment_is_one_the_api_server_and_operator_accept(name: str) -> None:
    md = loop.model_deployment(SCALES[name])
    jsonschema.Draft4Validator(s.schema()).validate(md)
    defaulted = s.apply_defaults(s.schema(), md)
    defaulted["metadata"].update(namespace="demo", uid="0b7c-1", generation=1)
    view = parse(defaulted)
    assert view.model.uri == "pvc://vigia-bundles/sobaos/1"
    retraining = parse_retraining(defaulted)
    assert retraining is not None and retraining.dataset_uri.endswith("/sobaos/train.csv")
    assert len(parse_rollout(defaulted["spec"]).steps) == len(SCALES[name].steps)


def test_traffic_goes_to_the_service_and_runs_until_told_to_stop() -> None:
    command = loop.send_command("ns", rows=None, seed=3, drift=1.0, batch=10, pause=0.2)
    assert command[:4] == ["vigia", "sample", "send", "http://sobaos.ns.svc.cluster.local:80"]
    assert command[-2:] == ["--until-file", loop.STOP_FILE]
    counted = loop.send_command("ns", rows=500, seed=3, drift=0.0)
    assert counted[-2:] == ["--rows", "500"]


def test_the_timeline_measures_from_the_drift_onset() -> None:
    lines: list[str] = []
    now = [0.0]
    timeline = Timeline(out=lines.append, clock=lambda: now[0])
    for step, at, numbers in [
        (Step.NORMAL_DAY, 10.0, {"accuracy": 0.89}),
        (Step.DRIFT_ONSET, 20.0, {}),
        (Step.DRIFTED_DAY, 25.0, {"accuracy": 0.83}),
        (Step.DRIFT_DETECTED, 50.0, {}),
        (Step.JOB_STARTED, 60.0, {}),
        (Step.CANDIDATE, 90.0, {}),
        (Step.PROMOTED, 200.0, {}),
        (Step.RECOVERED, 210.0, {"accuracy": 0.885}),
    ]:
        now[0] = at
        timeline.mark(step, "x", **numbers)
    summary = timeline.summary()
    assert summary["secondsFromDriftOnset"] == pytest.approx(
        {"detected": 30, "jobStarted": 40, "candidate": 70, "promoted": 180}, abs=0.01)
    assert summary["accuracy"] == {"beforeDrift": 0.89, "duringDrift": 0.83,
                                   "afterPromotion": 0.885}
    assert len(lines) == 8 and "drift detected" in lines[3]
    assert "89.0% before the drift, 83.0% during it, 88.5% after" in timeline.render()
