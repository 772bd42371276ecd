from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import joblib
import pandas as pd
import pytest

from vigia.bundle import ModelBundle, load_bundle
from vigia.features import validate_records
from vigia.sample import production_line, sample_pipeline


def vigia(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vigia.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, object], Path]:
    base = tmp_path_factory.mktemp("cli")
    uri = f"file://{base}/bundles/sobaos.bentomodel"
    done = vigia("sample", "bundle", "--out", uri, "--rows", "800", "--home", str(base),
                 "--dataset", f"file://{base}/data/sobaos.csv")
    assert done.returncode == 0, done.stderr
    return uri, json.loads(done.stdout), base


def test_sample_bundle_prints_uri_and_digest(exported: tuple[str, dict[str, object], Path]) -> None:
    uri, summary, _ = exported
    assert summary["uri"] == uri
    assert str(summary["digest"]).startswith("sha256:")
    assert Path(uri.removeprefix("file://") + ".sha256").read_text().strip() == summary["digest"]


def test_sample_bundle_writes_the_rows_it_learnt_from(
    exported: tuple[str, dict[str, object], Path],
) -> None:
    _, summary, base = exported
    assert summary["dataset"] == {"uri": f"file://{base}/data/sobaos.csv", "rows": 800,
                                  "target": "quality"}
    frame = pd.read_csv(base / "data/sobaos.csv")
    X, y = production_line(800, seed=0)
    assert list(frame.columns) == [*X.columns, "quality"]
    assert frame["quality"].tolist() == y.tolist()
    assert frame["line_speed"].to_numpy() == pytest.approx(X["line_speed"].to_numpy())


def test_inspect_prints_metadata_after_digest_check(
    exported: tuple[str, dict[str, object], Path],
) -> None:
    uri, summary, home = exported
    done = vigia("bundle", "inspect", uri, "--digest", str(summary["digest"]), "--home", str(home))
    assert done.returncode == 0, done.stderr
    metadata = json.loads(done.stdout)
    assert (metadata["name"], metadata["version"]) == ("sobaos", "1")
    assert metadata["classes"] == ["defective", "good"]
    assert len(metadata["profile"]["numeric"]["oven_temperature"]["edges"]) == 9


def test_inspect_refuses_a_wrong_digest(exported: tuple[str, dict[str, object], Path]) -> None:
    uri, _, home = exported
    wrong = "sha256:" + "1" * 64
    done = vigia("bundle", "inspect", uri, "--digest", wrong, "--home", str(home))
    assert done.returncode == 1
    assert "does not match" in done.stderr and wrong in done.stderr
    assert "Traceback" not in done.stderr


def test_traffic_writes_valid_json_lines(sample_bundle: ModelBundle, tmp_path: Path) -> None:
    out, labels = tmp_path / "traffic.jsonl", tmp_path / "labels.txt"
    args = ("sample", "traffic", "--rows", "50", "--drift", "1")
    done = vigia(*args, "--out", str(out), "--labels", str(labels))
    assert done.returncode == 0, done.stderr
    assert vigia(*args, "--out", "-").stdout == out.read_text()  # same seed, same rows
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 50
    assert len(labels.read_text().split()) == 50
    assert set(labels.read_text().split()) <= {"good", "defective"}
    assert len(validate_records(sample_bundle.metadata.schema, rows)) == 50


def test_bad_arguments_exit_non_zero() -> None:
    done = vigia("sample", "traffic", "--rows", "0", "--out", "-")
    assert done.returncode == 2
    assert "--rows" in done.stderr


def test_bundle_create_from_estimator_and_csv(tmp_path: Path) -> None:
    X, y = production_line(600, seed=4)
    model = sample_pipeline(seed=4).fit(X, y)
    joblib.dump(model, tmp_path / "model.joblib")
    X.assign(quality=y).to_csv(tmp_path / "train.csv", index=False)
    uri = str(tmp_path / "out" / "mine.bentomodel")
    done = vigia(
        "bundle", "create", "--estimator", str(tmp_path / "model.joblib"),
        "--train", str(tmp_path / "train.csv"), "--holdout", str(tmp_path / "train.csv"),
        "--target", "quality", "--name", "mine", "--version", "7", "--out", uri,
        "--home", str(tmp_path),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["accuracy"] == summary["train_accuracy"] > 0.8
    loaded = load_bundle(uri, summary["digest"], home=tmp_path)
    assert (loaded.metadata.name, loaded.metadata.version) == ("mine", "7")
    assert loaded.metadata.schema["flour_supplier"].kind == "categorical"


def test_bundle_create_names_a_missing_target(tmp_path: Path) -> None:
    X, y = production_line(100, seed=4)
    joblib.dump(sample_pipeline().fit(X, y), tmp_path / "model.joblib")
    X.to_csv(tmp_path / "train.csv", index=False)
    done = vigia(
        "bundle", "create", "--estimator", str(tmp_path / "model.joblib"),
        "--train", str(tmp_path / "train.csv"), "--target", "quality",
        "--name", "m", "--version", "1", "--out", str(tmp_path / "m.bentomodel"),
    )  # fmt: skip
    assert done.returncode == 1
    assert "--target" in done.stderr and "Traceback" not in done.stderr
