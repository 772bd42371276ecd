from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sklearn.semi_supervised import LabelSpreading

from vigia.bundle import export_bundle, make_bundle
from vigia.onnx.manifest import MANIFEST_FILE, MODEL_FILE
from vigia.sample import NUMERIC_FEATURES, production_line, train_sample_model


def vigia(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vigia.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def bundle_uri(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    base = tmp_path_factory.mktemp("export")
    uri = f"file://{base}/sobaos.bentomodel"
    export_bundle(train_sample_model(rows=800, seed=2), uri, home=base / "home")
    return uri, base


def test_export_onnx_writes_model_and_reports_parity_and_size(
    bundle_uri: tuple[str, Path],
) -> None:
    uri, base = bundle_uri
    out = base / "onnx"
    done = vigia("export", "onnx", uri, "--out", str(out), "--home", str(base / "home"))
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["parity"]["passed"] is True
    assert summary["parity"]["max_probability_difference"] < summary["parity"]["threshold"]
    assert summary["bytes"] == (out / MODEL_FILE).stat().st_size > 10_000
    assert json.loads((out / MANIFEST_FILE).read_text())["classes"] == ["defective", "good"]


def test_export_onnx_with_a_holdout_missing_a_column_names_it(
    bundle_uri: tuple[str, Path],
) -> None:
    uri, base = bundle_uri
    X, y = production_line(50, seed=3)
    X.drop(columns=["shift"]).assign(quality=y).to_csv(base / "holdout.csv", index=False)
    done = vigia(
        "export",
        "onnx",
        uri,
        "--out",
        str(base / "x"),
        "--home",
        str(base / "home"),
        "--holdout",
        str(base / "holdout.csv"),
        "--target",
        "quality",
    )
    assert done.returncode == 1
    assert "--holdout: no column 'shift'" in done.stderr
    assert "Traceback" not in done.stderr


def test_export_onnx_refuses_an_unsupported_estimator(tmp_path: Path) -> None:
    X, y = production_line(200, seed=2, missing_rate=0.0)
    X = X[list(NUMERIC_FEATURES)[:3]]
    bundle = make_bundle(LabelSpreading().fit(X, y), X, y, name="odd", version="1")
    uri = f"file://{tmp_path}/odd.bentomodel"
    export_bundle(bundle, uri, home=tmp_path / "home")
    done = vigia(
        "export", "onnx", uri, "--out", str(tmp_path / "o"), "--home", str(tmp_path / "home")
    )
    assert done.returncode == 1
    assert "LabelSpreading has no ONNX converter" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "o").exists()


def test_export_small_writes_the_smallest_forest_within_a_point(
    bundle_uri: tuple[str, Path],
) -> None:
    from sklearn.model_selection import train_test_split

    uri, base = bundle_uri
    X, y = production_line(800, seed=2)  # the rows train_sample_model(rows=800, seed=2) used
    X_train, X_hold, y_train, y_hold = train_test_split(
        X, y, test_size=0.2, random_state=2, stratify=y)
    X_train.assign(label=y_train).to_csv(base / "train.csv", index=False)
    X_hold.assign(label=y_hold).to_csv(base / "holdout.csv", index=False)
    out = base / "small"
    done = vigia("export", "small", uri, "--train", str(base / "train.csv"), "--holdout",
                 str(base / "holdout.csv"), "--target", "label", "--out", str(out),
                 "--trees", "10,30", "--depths", "6,none", "--home", str(base / "home"))
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["accuracy_loss"] <= 0.01
    assert summary["small"]["nodes"] <= summary["full"]["nodes"]
    assert summary["parity"]["passed"] and (out / MODEL_FILE).stat().st_size == summary["bytes"]
    assert json.loads((out / MANIFEST_FILE).read_text())["version"].endswith("-small")
