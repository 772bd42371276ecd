"""The retraining job's world for the tests: a current sample bundle, its original data,
drifted labelled feedback in a real store, and `vigia-retrain` run as a real process."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
from vigia_serving.store import FeedbackItem, PredictionRecord, PredictionStore

from vigia.bundle import export_bundle
from vigia.sample import TARGET, production_line, traffic_records, train_sample_model
from vigia.settings import RETRAIN_ENV_PREFIX, retrain_env_name

MODEL = "sobaos"
DRIFT = 1.0


@dataclass(frozen=True)
class Current:
    """The current model: its bundle URI and digest, and the data it was trained on."""

    uri: str
    digest: str
    dataset_csv: Path
    dataset_parquet: Path


@dataclass
class Run:
    code: int
    result: dict[str, Any]
    stderr: str
    termination: Path

    def reason_codes(self) -> list[str]:
        return [r["code"] for r in self.result["reasons"]]


def write_dataset(X: pd.DataFrame, y: pd.Series, path: Path) -> Path:
    frame = X.assign(**{TARGET: y})
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    return path


def drifted_feedback(rows: int, seed: int = 7) -> tuple[list[dict[str, object]], list[str]]:
    """Drifted production records (JSON-ready) and their true labels."""
    return traffic_records(rows, seed=seed, drift=DRIFT)


def store_feedback(
    url: str, records: list[dict[str, object]], labels: list[str], *, log_features: bool = True
) -> None:
    """Log predictions and their labels with the model server's own store code, one
    millisecond apart in record order (so the job's newest-share split is reproducible)."""
    store = PredictionStore(url)
    store.create_tables()
    start = datetime.now(UTC) - timedelta(milliseconds=len(records))
    ids = [secrets.token_urlsafe(16) for _ in records]
    store.log([
        PredictionRecord(
            pid, start + timedelta(milliseconds=i), MODEL, "1", "stable",
            record if log_features else None, "good", {"good": 1.0, "defective": 0.0},
        )
        for i, (pid, record) in enumerate(zip(ids, records, strict=True))
    ])
    store.flush()
    store.record_feedback([FeedbackItem(p, label) for p, label in zip(ids, labels, strict=True)])
    store.engine.dispose()


def feed_server(base_url: str, records: list[dict[str, object]], labels: list[str]) -> int:
    """Predict ``records`` through a running model server and send their labels back."""
    stored = 0
    with httpx.Client(base_url=base_url, timeout=60) as client:
        for start in range(0, len(records), 250):
            batch = records[start : start + 250]
            answer = client.post("/predict", json={"rows": batch})
            answer.raise_for_status()
            ids = [p["prediction_id"] for p in answer.json()["predictions"]]
            feedback = [
                {"prediction_id": pid, "label": label}
                for pid, label in zip(ids, labels[start : start + 250], strict=True)
            ]
            reply = client.post("/feedback", json=feedback)
            reply.raise_for_status()
            stored += sum(1 for item in reply.json()["feedback"] if item["stored"])
    return stored


def job_env(current: Current, work: Path, store: str | None, **extra: str) -> dict[str, str]:
    env = {
        "dataset_uri": str(current.dataset_csv),
        "target": TARGET,
        "model_uri": current.uri,
        "model_digest": current.digest,
        "output_uri": f"file://{work}/out",
        "home": str(work / "home"),
        "termination_path": str(work / "termination-log"),
        "sensitive_features": "shift",
        **({"store_url": store} if store else {}),
        **extra,
    }
    return {retrain_env_name(k): v for k, v in env.items()}


def clean_env() -> dict[str, str]:
    """This process's environment without any VIGIA_RETRAIN_* left over."""
    return {k: v for k, v in os.environ.items() if not k.startswith(RETRAIN_ENV_PREFIX)}


def run_job(env: Mapping[str, str], *args: str, base_env: Mapping[str, str]) -> Run:
    """`python -m vigia_retrain` (what the `vigia-retrain` console script runs) with ``env`` on
    top of ``base_env``: a real process."""
    completed = subprocess.run(
        [sys.executable, "-m", "vigia_retrain", *args],
        env={**base_env, **env},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    termination = Path(env.get(retrain_env_name("termination_path"), "/nonexistent"))
    lines = [line for line in completed.stdout.splitlines() if line.startswith("{")]
    assert lines, f"no result on stdout (exit {completed.returncode}): {completed.stderr[-3000:]}"
    return Run(completed.returncode, json.loads(lines[-1]), completed.stderr, termination)


def sample_current(work: Path, rows: int = 5000) -> Current:
    """The current model: the sample trained on undrifted data, and that data as files."""
    bundle = train_sample_model(rows=rows, seed=0, name=MODEL, version="1")
    uri = f"file://{work}/current.bentomodel"
    digest = export_bundle(bundle, uri, home=work / "home")
    X, y = production_line(rows, seed=0)
    return Current(
        uri=uri,
        digest=digest,
        dataset_csv=write_dataset(X, y, work / "sobaos.csv"),
        dataset_parquet=write_dataset(X, y, work / "sobaos.parquet"),
    )
