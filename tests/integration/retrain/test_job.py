"""`vigia-retrain` run for real on the sample with drifted, labelled feedback in real stores."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.semi_supervised import LabelSpreading
from vigia_serving.local import LocalServer
from vigia_testbed.retrain import (
    MODEL,
    Current,
    Run,
    clean_env,
    drifted_feedback,
    feed_server,
    job_env,
    run_job,
    store_feedback,
    write_dataset,
)

from tests.fixtures.browser import open_page
from tests.fixtures.postgres import new_database
from vigia.bundle import export_bundle, file_digest, load_bundle, make_bundle
from vigia.features import validate_records
from vigia.onnx.parity import DEFAULT_THRESHOLD
from vigia.onnx.runner import OnnxModel
from vigia.retraining import TERMINATION_MESSAGE_LIMIT, ExitCode, Reason, parse_result
from vigia.sample import production_line, sample_pipeline
from vigia.settings import env_name

pytestmark = pytest.mark.integration
SCREENSHOTS = Path(os.environ.get("VIGIA_SCREENSHOTS", "/tmp/vigia-screenshots"))


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


@pytest.fixture(scope="module")
def accepted_sqlite(current: Current, tmp_path_factory: pytest.TempPathFactory) -> tuple[Run, Path]:
    """The job on drifted feedback in SQLite, with spec.export.onnx: one run, several tests."""
    work = tmp_path_factory.mktemp("accepted")
    store = f"sqlite:///{work}/predictions.db"
    records, labels = drifted_feedback(1500)
    store_feedback(store, records, labels)
    env = job_env(current, work, store, export_onnx="true")
    return run_job(env, base_env=clean_env()), work


def test_candidate_beats_current_on_drifted_feedback_sqlite(
    accepted_sqlite: tuple[Run, Path],
) -> None:
    run, work = accepted_sqlite
    assert_accepted_and_written(run, work)
    feedback = run.result["data"]["feedback"]
    assert feedback["labelled"] == feedback["used"] == 1500
    assert run.result["data"]["feedbackTrainRows"] + run.result["data"]["recentRows"] == 1500
    assert len(run.termination.read_bytes()) <= TERMINATION_MESSAGE_LIMIT
    assert "truncated" not in run.result


def test_onnx_export_beside_the_candidate_with_its_parity(
    accepted_sqlite: tuple[Run, Path],
) -> None:
    """spec.export.onnx: model.onnx and model.json beside the bundle, parity measured on
    the evaluation rows, and the graph answers like the candidate it came from."""
    run, work = accepted_sqlite
    result, candidate = run.result, run.result["candidate"]
    onnx = result["onnx"]
    assert "error" not in onnx
    parity = onnx["parity"]
    assert parity["passed"] and parity["disagreements"] == 0
    assert parity["rows"] == result["data"]["holdoutRows"] + result["data"]["recentRows"]
    assert parity["maxProbabilityDifference"] <= parity["threshold"] == DEFAULT_THRESHOLD
    graph = Path(onnx["uri"].removeprefix("file://"))
    assert graph.name == "model.onnx" and graph.stat().st_size == onnx["bytes"]
    assert graph.parent == Path(candidate["uri"].removeprefix("file://")).with_suffix(".onnx")
    manifest = json.loads(Path(onnx["manifestUri"].removeprefix("file://")).read_text())
    assert manifest["version"] == candidate["version"] and manifest["parity"]["passed"]
    records, _ = drifted_feedback(50, seed=99)
    bundle = load_bundle(candidate["uri"], candidate["digest"], home=work / "check-onnx")
    expected = bundle.predict_proba(validate_records(bundle.metadata.schema, records))
    got = OnnxModel.load(graph.parent).predict_proba(records)
    assert np.abs(got - expected).max() <= DEFAULT_THRESHOLD


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


def test_two_namespaces_one_postgres_each_job_reads_its_own(
    current: Current, tmp_path: Path, base_env: dict[str, str], postgres_url: str
) -> None:
    """A model "sobaos" in staging and in prod, their servers logging into one PostgreSQL:
    each namespace's retraining Job reads exactly the labels sent to its own server."""
    store = new_database(postgres_url)
    sent = {"staging": 600, "prod": 400}
    for seed, (namespace, rows) in enumerate(sent.items()):
        server = LocalServer(tmp_path / namespace, {
            env_name("model_uri"): current.uri,
            env_name("model_digest"): current.digest,
            env_name("store_url"): store,
            env_name("namespace"): namespace,
            env_name("model_name"): "sobaos",
            env_name("flush_interval_s"): "0.2",
        }).start_ready()
        try:
            records, labels = drifted_feedback(rows, seed=20 + seed)
            assert feed_server(server.url, records, labels) == rows
        finally:
            server.stop()
    for namespace, rows in sent.items():
        work = tmp_path / f"job-{namespace}"
        env = job_env(current, work, store, feedback_namespace=namespace,
                      feedback_model="sobaos", max_parity_difference="1.0")
        run = run_job(env, base_env=base_env)
        feedback = run.result["data"]["feedback"]
        assert (feedback["namespace"], feedback["labelled"]) == (namespace, rows), (
            run.stderr[-2000:])


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
    assert "onnx" not in run.result  # spec.export.onnx not set
    page = Path(run.result["candidate"]["htmlReportUri"].removeprefix("file://")).read_text()
    assert "Candidate sobaos" in page and ": refused</title>" in page
    assert page.count("<td>Unfair</td>") == 2


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


def test_onnx_export_of_an_unsupported_estimator_is_reported_not_fatal(
    tmp_path: Path, base_env: dict[str, str]
) -> None:
    """A current model without an ONNX converter: the candidate is still accepted and
    written; the result says why there is no ONNX form and names the estimator."""
    X, y = production_line(3000, seed=0)
    model = sample_pipeline(0)
    model.steps[-1] = ("classifier", LabelSpreading(kernel="knn", n_neighbors=10))
    bundle = make_bundle(model.fit(X, y), X, y, name=MODEL, version="1")
    uri = f"file://{tmp_path}/knn.bentomodel"
    digest = export_bundle(bundle, uri, home=tmp_path / "home")
    current = Current(uri, digest, write_dataset(X, y, tmp_path / "data.csv"), tmp_path / "-")
    # The current model saw the job's holdout: the gate must not demand a gain there.
    env = job_env(current, tmp_path, None, include_feedback="false", sensitive_features="",
                  min_improvement="-0.1", export_onnx="true")
    run = run_job(env, base_env=base_env)
    assert run.code == ExitCode.ACCEPTED, run.stderr[-3000:]
    error = run.result["onnx"]["error"]
    assert error["code"] == "UnsupportedModel"
    assert "LabelSpreading has no ONNX converter" in error["message"]
    assert Path(run.result["candidate"]["uri"].removeprefix("file://")).exists()
    assert not list(tmp_path.glob("out/*.onnx"))
    assert "Traceback" not in run.stderr
    assert parse_result(run.termination.read_text()).accepted


SECTIONS = ("verdict", "comparison", "confusion", "mistakes", "importance", "fairness")


def test_candidate_report_renders_in_chromium_without_any_request(
    accepted_sqlite: tuple[Run, Path], playwright_driver: Any
) -> None:
    """The HTML report beside the candidate: every section there with its figures, no
    request but the file itself, no console error. Last in the module: the browser's
    driver keeps an event loop in this thread while it is open."""
    run, _ = accepted_sqlite
    page_file = Path(run.result["candidate"]["htmlReportUri"].removeprefix("file://"))
    html = page_file.read_text()
    evaluated = run.result["data"]["holdoutRows"] + run.result["data"]["recentRows"]
    assert f"Of {evaluated:,} items whose real outcome came back, " in html
    assert "<script" not in html
    with open_page(playwright_driver, page_file.as_uri()) as (page, recorder):
        page.goto(page_file.as_uri())
        shown = {s: page.locator(f"section#{s} svg.figure").count() for s in SECTIONS}
        present = [s for s in SECTIONS if page.locator(f"section#{s}").count() == 1]
        headline = page.inner_text("#headline")
        comparison = page.inner_text("section#comparison")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "retrain-candidate.png"), full_page=True)
    assert [r.url for r in recorder.requests] == [page_file.as_uri()]
    assert recorder.errors == []
    assert present == list(SECTIONS)
    # current and candidate confusion, candidate's confusion, importance, one per group
    assert shown == {"verdict": 0, "comparison": 1, "confusion": 1, "mistakes": 0,
                     "importance": 1, "fairness": 1}
    assert "Accepted" in headline
    recent = run.result["metrics"]["recent"]
    assert f"{recent['candidate']['accuracy']:.1%}" in comparison
    assert f"{recent['current']['accuracy']:.1%}" in comparison
