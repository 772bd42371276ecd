"""The job with everything on s3:// (moto's S3 server on 127.0.0.1): the base dataset, the
current bundle, and the output store where the candidate and its report are written."""

from __future__ import annotations

import json
import os
from pathlib import Path

import fsspec
import pytest
from vigia_testbed.retrain import (
    Current,
    drifted_feedback,
    job_env,
    run_job,
    store_feedback,
)

from vigia.bundle import load_bundle
from vigia.retraining import ExitCode

pytestmark = pytest.mark.integration


def test_dataset_bundle_and_output_on_s3(
    s3_bucket: str, current: Current, tmp_path: Path
) -> None:
    fs = fsspec.filesystem("s3", skip_instance_cache=True)
    dataset = f"s3://{s3_bucket}/data/sobaos.csv"
    model = f"s3://{s3_bucket}/models/sobaos-1.bentomodel"
    local_model = current.uri.removeprefix("file://")
    fs.put(str(current.dataset_csv), dataset)
    fs.put(local_model, model)
    store = f"sqlite:///{tmp_path}/predictions.db"
    records, labels = drifted_feedback(1500)
    store_feedback(store, records, labels)
    env = job_env(
        current, tmp_path, store, dataset_uri=dataset, model_uri=model,
        output_uri=f"s3://{s3_bucket}/candidates", candidate_version="2", export_onnx="true",
    )
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIA_RETRAIN_")}
    run = run_job(env, base_env=base_env)
    assert run.code == ExitCode.ACCEPTED, run.stderr[-3000:]
    candidate = run.result["candidate"]
    assert candidate["uri"] == f"s3://{s3_bucket}/candidates/sobaos-2.bentomodel"
    loaded = load_bundle(candidate["uri"], candidate["digest"], home=tmp_path / "check")
    assert loaded.metadata.version == "2"
    with fsspec.open(candidate["reportUri"], "r") as report:
        assert json.load(report)["candidate"]["digest"] == candidate["digest"]
    assert candidate["htmlReportUri"] == f"s3://{s3_bucket}/candidates/sobaos-2.report.html"
    with fsspec.open(candidate["htmlReportUri"], "r") as page:
        assert "<title>Candidate sobaos 2: accepted</title>" in page.read()
    onnx = run.result["onnx"]
    assert onnx["uri"] == f"s3://{s3_bucket}/candidates/sobaos-2.onnx/model.onnx"
    assert onnx["parity"]["passed"]
    assert fs.size(onnx["uri"]) == onnx["bytes"] and fs.exists(onnx["manifestUri"])
