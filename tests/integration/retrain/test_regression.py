"""`vigia-retrain` on a regressor for real: its drifted traffic goes through a real model
server (true weights back as feedback) into SQLite, and the Job trains, judges the
candidate by its MAE in the model's units, writes the bundle, or refuses naming the MAEs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from vigia_serving.local import LocalServer
from vigia_testbed.retrain import clean_env, run_job

from vigia.bundle import export_bundle, load_bundle
from vigia.retraining import ExitCode, Reason, parse_result
from vigia.sample import WEIGHT, WEIGHT_TARGET, train_weight_model, write_weight_dataset
from vigia.settings import env_name, retrain_env_name
from vigia.traffic import send

pytestmark = pytest.mark.integration
ROWS = 3000


@pytest.fixture(scope="module")
def drifted_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str, str]:
    """The current regressor, its training data, and a store holding 1,500 drifted
    predictions with their true weights, sent through a real server."""
    work = tmp_path_factory.mktemp("weights-retrain")
    bundle = train_weight_model(rows=ROWS, seed=0, name="weights", version="1")
    uri = f"file://{work}/weights-1.bentomodel"
    digest = export_bundle(bundle, uri, home=work / "home")
    write_weight_dataset(str(work / "train.csv"), rows=ROWS, seed=0)
    store = f"sqlite:///{work}/predictions.db"
    server = LocalServer(work / "server", {
        env_name("model_uri"): uri, env_name("model_digest"): digest,
        env_name("store_url"): store, env_name("flush_interval_s"): "0.2",
    }).start_ready()
    try:
        sent = send(server.url, 1500, seed=31, drift=1.0, kind=WEIGHT, batch=250)
    finally:
        server.stop()
    assert sent.feedback == 1500 and sent.errors == 0
    return work, uri, digest, store


def _env(work: Path, uri: str, digest: str, store: str, out: str, **extra: str
         ) -> dict[str, str]:
    env = {
        "dataset_uri": str(work / "train.csv"), "target": WEIGHT_TARGET, "model_uri": uri,
        "model_digest": digest, "output_uri": f"file://{work}/{out}",
        "home": str(work / f"home-{out}"), "termination_path": str(work / f"term-{out}"),
        "store_url": store, "sensitive_features": "", **extra,
    }
    return {retrain_env_name(k): v for k, v in env.items()}


def test_a_regressor_retrained_on_drifted_values_is_accepted(
    drifted_store: tuple[Path, str, str, str],
) -> None:
    work, uri, digest, store = drifted_store
    run = run_job(_env(work, uri, digest, store, "accepted"), base_env=clean_env())
    assert run.code == ExitCode.ACCEPTED, run.stderr[-3000:]
    result = run.result
    assert result["verdict"] == "Accepted" and result["reasons"] == []
    recent = result["metrics"]["recent"]
    assert recent["metric"] == "mae"
    assert recent["candidate"]["mae"] < 0.7 * recent["current"]["mae"]
    assert recent["improvement"] > 0.3
    assert result["data"]["feedback"]["used"] == 1500
    candidate = result["candidate"]
    loaded = load_bundle(candidate["uri"], candidate["digest"], home=work / "check")
    assert loaded.metadata.task == "regression" and "interval_halfwidth" in (
        loaded.metadata.training_metrics)
    assert candidate["htmlReportUri"] is None
    assert set(result["importance"]) <= set(loaded.metadata.schema.names)
    assert "maeWithout" in result["drop"]
    parsed = parse_result(run.termination.read_text())
    assert parsed.accepted and parsed.candidate is not None
    report = json.loads(Path(candidate["reportUri"].removeprefix("file://")).read_text())
    assert report["verdict"] == "Accepted"


def test_too_little_error_reduction_is_refused_in_the_models_units(
    drifted_store: tuple[Path, str, str, str],
) -> None:
    work, uri, digest, store = drifted_store
    run = run_job(_env(work, uri, digest, store, "refused", min_improvement="0.95"),
                  base_env=clean_env())
    assert run.code == ExitCode.REFUSED, run.stderr[-3000:]
    (reason,) = run.result["reasons"]
    assert reason["code"] == Reason.NOT_ENOUGH_IMPROVEMENT
    assert reason["message"].startswith("MAE on recent feedback (")
    assert "is below minImprovement +95.00%" in reason["message"]


def test_fairness_of_a_regressor_is_refused_as_input(
    drifted_store: tuple[Path, str, str, str],
) -> None:
    work, uri, digest, store = drifted_store
    run = run_job(_env(work, uri, digest, store, "fair", sensitive_features="shift"),
                  base_env=clean_env())
    assert run.code == ExitCode.INVALID_INPUT
    assert "fairness is measured for classifiers only" in run.result["reasons"][0]["message"]
