"""Bad inputs to `vigia-retrain`: a clear error naming the setting, a Refused (or, for an
unreachable store, Failed) result on stdout and in the termination message, the
documented exit code, and never a traceback."""

from __future__ import annotations

import http.server
import json
import threading
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from vigia_serving.store import PredictionStore
from vigia_testbed.net import free_port
from vigia_testbed.retrain import (
    Current,
    Run,
    drifted_feedback,
    job_env,
    run_job,
    store_feedback,
)

from vigia.retraining import ExitCode, Reason, parse_result
from vigia.settings import retrain_env_name

pytestmark = pytest.mark.integration


def assert_clean_end(run: Run, code: ExitCode, verdict: str, reason: str, *words: str) -> str:
    """The run ended with ``code``/``verdict``/``reason``; returns the reason's message."""
    assert run.code == code, run.stderr[-3000:]
    assert run.result["verdict"] == verdict
    assert run.reason_codes() == [reason]
    message = str(run.result["reasons"][0]["message"])
    for word in words:
        assert word in message
        assert word in run.stderr
    assert "Traceback" not in run.stderr
    assert json.loads(run.termination.read_text()) == run.result
    assert parse_result(run.termination.read_text()).verdict == verdict
    return message


@pytest.fixture
def feedback_store(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path}/predictions.db"
    records, labels = drifted_feedback(200)
    store_feedback(url, records, labels)
    return url


def test_missing_dataset(
    current: Current, tmp_path: Path, feedback_store: str, base_env: dict[str, str]
) -> None:
    env = job_env(current, tmp_path, feedback_store, dataset_uri=f"{tmp_path}/nowhere.csv")
    run = run_job(env, base_env=base_env)
    assert_clean_end(
        run, ExitCode.INVALID_INPUT, "Refused", Reason.INVALID_INPUT, "dataset_uri", "not found"
    )


def test_unknown_target_column_given_as_an_argument(
    current: Current, tmp_path: Path, feedback_store: str, base_env: dict[str, str]
) -> None:
    env = job_env(current, tmp_path, feedback_store)  # target "quality" in the environment
    run = run_job(env, "--target", "grade", base_env=base_env)
    message = assert_clean_end(
        run, ExitCode.INVALID_INPUT, "Refused", Reason.INVALID_INPUT, "target", "'grade'"
    )
    # Counted, not listed: the file's own words never travel into status and Events.
    assert "columns)" in message and "quality" not in message


# Issue 21: what a tenant pointed the dataset at, a credentials file.
CREDENTIALS = "AccessKeyId,SecretAccessKey\nAKIAEXAMPLEKEYID0001,wJalrXUtnFEMIK7MDENGbPxRfiCY\n"
SECRETS = ("AccessKeyId", "SecretAccessKey", "AKIAEXAMPLEKEYID0001", "wJalrXUtnFEMIK7MDENGbPxRfiCY")


def assert_nothing_echoed(run: Run) -> None:
    said = run.termination.read_text() + json.dumps(run.result) + run.stderr
    for secret in SECRETS:
        assert secret not in said


def test_an_http_dataset_is_refused_before_it_is_fetched(
    current: Current, tmp_path: Path, feedback_store: str, base_env: dict[str, str]
) -> None:
    """Given to the process directly (as if the CRD and the operator had let it through):
    the job's own policy refuses the scheme and no request leaves it."""
    requests: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requests.append(self.path)
            body = (CREDENTIALS * 30).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        uri = f"http://127.0.0.1:{server.server_address[1]}/latest/meta-data/creds.csv"
        run = run_job(job_env(current, tmp_path, feedback_store, dataset_uri=uri),
                      base_env=base_env)
    finally:
        server.shutdown()
        server.server_close()
    assert_clean_end(run, ExitCode.INVALID_INPUT, "Refused", Reason.INVALID_INPUT,
                     "dataset_uri", "scheme 'http' is not allowed")
    assert requests == []
    assert_nothing_echoed(run)


def test_a_credentials_file_as_dataset_is_refused_without_quoting_it(
    current: Current, tmp_path: Path, feedback_store: str, base_env: dict[str, str]
) -> None:
    credentials = tmp_path / "credentials.csv"
    credentials.write_text(CREDENTIALS * 30)
    run = run_job(job_env(current, tmp_path, feedback_store, dataset_uri=f"file://{credentials}"),
                  base_env=base_env)
    assert_clean_end(run, ExitCode.INVALID_INPUT, "Refused", Reason.INVALID_INPUT,
                     "target", "no column 'quality'", "(it has 2 columns)")
    assert_nothing_echoed(run)


def test_empty_feedback(current: Current, tmp_path: Path, base_env: dict[str, str]) -> None:
    url = f"sqlite:///{tmp_path}/empty.db"
    PredictionStore(url).create_tables()
    run = run_job(job_env(current, tmp_path, url), base_env=base_env)
    assert_clean_end(
        run, ExitCode.INVALID_INPUT, "Refused", Reason.NO_FEEDBACK,
        "0 usable labelled feedback rows", "'sobaos'",
    )
    assert run.result["data"]["feedback"]["labelled"] == 0


def test_feedback_logged_without_features_is_counted(
    current: Current, tmp_path: Path, base_env: dict[str, str]
) -> None:
    url = f"sqlite:///{tmp_path}/nofeatures.db"
    records, labels = drifted_feedback(120)
    store_feedback(url, records, labels, log_features=False)
    run = run_job(job_env(current, tmp_path, url), base_env=base_env)
    assert_clean_end(
        run, ExitCode.INVALID_INPUT, "Refused", Reason.NO_FEEDBACK, "120 logged without features"
    )
    counts = run.result["data"]["feedback"]
    assert (counts["labelled"], counts["withoutFeatures"], counts["used"]) == (120, 120, 0)


def test_store_without_prediction_log(
    current: Current, tmp_path: Path, base_env: dict[str, str]
) -> None:
    url = f"sqlite:///{tmp_path}/other.db"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE unrelated (x INTEGER)"))
    engine.dispose()
    run = run_job(job_env(current, tmp_path, url), base_env=base_env)
    assert_clean_end(
        run, ExitCode.INVALID_INPUT, "Refused", Reason.NO_FEEDBACK, "store_url", "vigia_predictions"
    )


def test_missing_sqlite_store(current: Current, tmp_path: Path, base_env: dict[str, str]) -> None:
    url = f"sqlite:///{tmp_path}/absent.db"
    run = run_job(job_env(current, tmp_path, url), base_env=base_env)
    assert_clean_end(
        run, ExitCode.INVALID_INPUT, "Refused", Reason.INVALID_INPUT, "store_url",
        "no such database",
    )
    assert not (tmp_path / "absent.db").exists()


def test_unreachable_store_fails_and_may_be_retried(
    current: Current, tmp_path: Path, base_env: dict[str, str]
) -> None:
    url = f"postgresql+psycopg://vigia:secret@127.0.0.1:{free_port()}/predictions"
    run = run_job(job_env(current, tmp_path, url), base_env=base_env)
    message = assert_clean_end(run, ExitCode.FAILED, "Failed", Reason.UNAVAILABLE, "store_url")
    assert "secret" not in message and "secret" not in run.stderr


def test_missing_required_setting_names_its_variable(
    current: Current, tmp_path: Path, base_env: dict[str, str]
) -> None:
    env = job_env(current, tmp_path, None)
    del env[retrain_env_name("dataset_uri")]
    env[retrain_env_name("min_group_size")] = "0"
    run = run_job(env, base_env=base_env)
    assert run.code == ExitCode.INVALID_INPUT
    assert run.reason_codes() == [Reason.INVALID_INPUT, Reason.INVALID_INPUT]
    text = json.dumps(run.result)
    for name in ("VIGIA_RETRAIN_DATASET_URI", "--dataset-uri", "VIGIA_RETRAIN_MIN_GROUP_SIZE"):
        assert name in text and name in run.stderr
    assert "Traceback" not in run.stderr
    assert json.loads(run.termination.read_text()) == run.result


def test_wrong_digest_is_refused_before_loading(
    current: Current, tmp_path: Path, feedback_store: str, base_env: dict[str, str]
) -> None:
    env = job_env(current, tmp_path, feedback_store, model_digest="sha256:" + "0" * 64)
    run = run_job(env, base_env=base_env)
    assert_clean_end(
        run, ExitCode.INVALID_INPUT, "Refused", Reason.INVALID_INPUT, "model_digest",
        "does not match",
    )


def test_unknown_sensitive_feature(
    current: Current, tmp_path: Path, feedback_store: str, base_env: dict[str, str]
) -> None:
    env = job_env(current, tmp_path, feedback_store, sensitive_features="shift,gender")
    run = run_job(env, base_env=base_env)
    assert_clean_end(
        run, ExitCode.INVALID_INPUT, "Refused", Reason.INVALID_INPUT, "sensitive_features",
        "gender",
    )
