"""MLServer (mlserver + mlserver-sklearn from PyPI) as a benchmark target.

MLServer pins its own versions of numpy, pandas, FastAPI...; it lives in a virtual
environment of its own under ~/.cache/vigia/mlserver-<version>/venv (made on first use,
with the scikit-learn version of this interpreter so the pickled model loads). The model
is the same estimator, saved with joblib; requests ask for ``predict_proba`` through the
V2 inference protocol, like Vigía's answer carries probabilities.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import joblib
import psutil
import sklearn
from vigia_serving.local import free_port

MLSERVER_VERSION = "1.7.1"
HOME = Path.home() / ".cache" / "vigia" / f"mlserver-{MLSERVER_VERSION}"
MODEL_NAME = "reference"


def mlserver_binary() -> Path:
    """The `mlserver` command of the private venv, installed on first use (idempotent)."""
    venv = HOME / "venv"
    stamp = HOME / "stamp"
    wanted = f"mlserver={MLSERVER_VERSION} sklearn={sklearn.__version__} uvloop<0.22"
    if not stamp.exists() or stamp.read_text() != wanted:
        HOME.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(venv / "bin" / "python"), "-m", "pip", "install", "-q",
             f"mlserver=={MLSERVER_VERSION}", f"mlserver-sklearn=={MLSERVER_VERSION}",
             f"scikit-learn=={sklearn.__version__}",
             # uvloop 0.22 dropped the implicit event loop MLServer 1.7 relies on.
             "uvloop<0.22"],
            check=True,
        )
        stamp.write_text(wanted)
    return venv / "bin" / "mlserver"


@dataclass
class MLServerProcess:
    """One `mlserver start` process on 127.0.0.1; adaptive batching when ``max_batch_size``."""

    work: Path
    estimator: Any
    max_batch_size: int = 0
    max_batch_time_s: float = 0.0
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def path(self) -> str:
        return f"/v2/models/{MODEL_NAME}/infer"

    def start_ready(self, timeout: float = 180) -> MLServerProcess:
        binary = mlserver_binary()
        root = self.work / f"mlserver-{self.port}"
        (root / MODEL_NAME).mkdir(parents=True)
        joblib.dump(self.estimator, root / MODEL_NAME / "model.joblib")
        settings = {
            "host": "127.0.0.1", "http_port": self.port, "grpc_port": free_port(),
            "metrics_port": free_port(), "debug": False,
        }
        (root / "settings.json").write_text(json.dumps(settings))
        model = {
            "name": MODEL_NAME,
            "implementation": "mlserver_sklearn.SKLearnModel",
            "parameters": {"uri": "./model.joblib", "version": "v1"},
            "max_batch_size": self.max_batch_size,
            "max_batch_time": self.max_batch_time_s,
        }
        (root / MODEL_NAME / "model-settings.json").write_text(json.dumps(model))
        log = (root / "mlserver.log").open("wb")
        self.process = subprocess.Popen(
            [str(binary), "start", str(root)], cwd=root, stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": ""},
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = (root / "mlserver.log").read_text()[-2000:]
                raise RuntimeError(f"mlserver exited: {tail}")
            try:
                ready = httpx.get(f"{self.url}/v2/models/{MODEL_NAME}/ready", timeout=2)
                if ready.status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError("mlserver never became ready")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        children = psutil.Process(self.process.pid).children(recursive=True)
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        _, alive = psutil.wait_procs(children, timeout=10)
        for child in alive:
            child.kill()


def infer_body(values: list[float]) -> str:
    return json.dumps({
        "inputs": [{"name": "input-0", "shape": [1, len(values)], "datatype": "FP64",
                    "data": values}],
        "outputs": [{"name": "predict_proba"}],
    })
