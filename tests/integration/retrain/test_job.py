"""`vigia retrain` run for real on the sample with drifted, labelled feedback in real stores."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from vigia_serving.local import LocalServer

from tests.fixtures.postgres import new_database
from tests.integration.retrain.harness import (
    MODEL,
    Current,
    Run,
    drifted_feedback,
    feed_server,
    job_env,
    run_job,
    store_feedback,
    write_dataset,
)
from vigia.bundle import file_digest, load_bundle
from vigia.retraining import ExitCode, Reason, parse_result
from vigia.sample import production_line
from vigia.settings import env_name

pytestmark = pytest.mark.integration


def assert_accepted_and_written(run: Run, work: Path) -> None:
    result = run.result
    assert run.code == ExitCode.ACCEPTED, run.stderr[-3000:]
    assert result["verdict"] == "Accepted" and result["reasons"] == []
    recent = result["metrics"]["recent"]
    assert recent["candidate"]["accuracy"] > recent["current"]["accuracy"]
    shift = result["fairness"]["shift"]
    assert shift["demographicParityDifference"] <= result["gate"]["maxParityDifference"]
    assert shift["equalizedOddsDifference"] <= result["gate"]["maxParityDifference"]
    candidate = result["candidate"]
    bundle_path = Path(candidate["uri"].removeprefix("file://"))
    assert file_digest(bundle_path) == candidate["digest"]
    assert Path(f"{bundle_path}.sha256").read_text().strip() == candidate["digest"]
    loaded = load_bundle(candidate["uri"], candidate["digest"], home=work / "check")
    assert loaded.metadata.version == candidate["version"]
    assert loaded.metadata.training_metrics["rows_train"] == result["data"]["trainRows"]
    report = json.loads(Path(candidate["reportUri"].removeprefix("file://")).read_text())
    assert report["verdict"] == "Accepted"
    assert set(report["importance"]) == set(loaded.metadata.schema.names)
    assert json.loads(run.termination.read_text()) == result
    parsed = parse_result(run.termination.read_text())
    assert parsed.accepted and parsed.candidate is not None
    assert parsed.candidate.digest == candidate["digest"]


def test_candidate_beats_current_on_drifted_feedback_sqlite(
    current: Current, tmp_path: Path, base_env: dict[str, str]
) -> None:
    store = f"sqlite:///{tmp_path}/predictions.db"
    records, labels = drifted_feedback(1500)
    store_feedback(store, records, labels)
    run = run_job(job_env(current, tmp_path, store), base_env=base_env)
    assert_accepted_and_written(run, tmp_path)
    feedback = run.result["data"]["feedback"]
    assert feedback["labelled"] == feedback["used"] == 1500
    assert run.result["data"]["feedbackTrainRows"] + run.result["data"]["recentRows"] == 1500


def test_feedback_through_the_model_server_into_postgres(
    current: Current, tmp_path: Path, base_env: dict[str, str], postgres_url: str
) -> None:
    """Predictions and labels go through a real model server (features logged for a sample
    of rows) into PostgreSQL; the job reads Parquet by file:// URI and says how many
    feedback rows it could use."""
    store = new_database(postgres_url)
    server = LocalServer(
        tmp_path / "server",
        {
            env_name("model_uri"): current.uri,
            env_name("model_digest"): current.digest,
            env_name("store_url"): store,
            env_name("log_features"): "sample",
            env_name("log_sample_rate"): "0.8",
            env_name("flush_interval_s"): "0.2",
        },
    ).start_ready()
    try:
        records, labels = drifted_feedback(2000, seed=11)
        assert feed_server(server.url, records, labels) == 2000
    finally:
        server.stop()
    # The server stamps a whole batch at once, so the newest-share split (and with it the
    # night shift's ~100 defective rows behind the equalized odds estimate) varies from
    # run to run; the sample's own gap between shifts then reaches ~0.1.
    env = job_env(
        current, tmp_path, store, dataset_uri=f"file://{current.dataset_parquet}",
        max_parity_difference="0.15",
    )
    run = run_job(env, base_env=base_env)
    assert_accepted_and_written(run, tmp_path)
    feedback = run.result["data"]["feedback"]
    assert feedback["labelled"] == 2000
    assert 0 < feedback["withoutFeatures"] < 2000
    assert feedback["used"] == 2000 - feedback["withoutFeatures"]


def test_unfair_candidate_is_refused(
    current: Current, tmp_path: Path, base_env: dict[str, str]
) -> None:
    """Data where every night-shift tray is labelled defective: the candidate learns it,
    gains accuracy on those labels, and the fairness gate refuses it with the numbers."""
    X, y = production_line(5000, seed=0)
    y = y.where(X["shift"] != "night", "defective")
    biased = write_dataset(X, y, tmp_path / "biased.csv")
    records, labels = drifted_feedback(1500)
    labels = [
        "defective" if record["shift"] == "night" else label
        for record, label in zip(records, labels, strict=True)
    ]
    store = f"sqlite:///{tmp_path}/predictions.db"
    store_feedback(store, records, labels)
    env = job_env(current, tmp_path, store, dataset_uri=str(biased))
    run = run_job(env, base_env=base_env)
    assert run.code == ExitCode.REFUSED, run.stderr[-3000:]
    assert run.result["verdict"] == "Refused"
    assert Reason.UNFAIR in run.reason_codes()
    shift = run.result["fairness"]["shift"]
    assert shift["demographicParityDifference"] > 0.5
    assert shift["current"]["demographicParityDifference"] < 0.1
    assert shift["groups"]["night"]["selectionRate"] < 0.1
    recent = run.result["metrics"]["recent"]
    assert recent["candidate"]["accuracy"] > recent["current"]["accuracy"]
    assert "Traceback" not in run.stderr
    assert json.loads(run.termination.read_text())["verdict"] == "Refused"
    assert run.result["model"] == MODEL


def test_without_feedback_the_holdout_decides(
    current: Current, tmp_path: Path, base_env: dict[str, str]
) -> None:
    """includeFeedback false: no store needed; retrained on the very data (and split) of
    the current model, the candidate is the same model, so a required gain refuses it."""
    env = job_env(current, tmp_path, None, include_feedback="false", min_improvement="0.01")
    run = run_job(env, base_env=base_env)
    assert run.code == ExitCode.REFUSED, run.stderr[-3000:]
    assert run.reason_codes() == [Reason.NOT_ENOUGH_IMPROVEMENT]
    assert "the holdout" in run.result["reasons"][0]["message"]
    assert run.result["metrics"]["recent"] is None
    assert run.result["metrics"]["holdout"]["improvement"] == 0.0
    assert "feedback" not in run.result["data"]
    assert Path(run.result["candidate"]["uri"].removeprefix("file://")).exists()
