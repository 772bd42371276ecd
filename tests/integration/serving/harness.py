"""Start and stop real model-server processes (`bentoml serve`) for the tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
from prometheus_client.parser import text_string_to_metric_families

SERVICE = "vigia_serving.service:VigiaModel"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """One `bentoml serve` process on 127.0.0.1; ``stop()`` ends it by its process id."""

    work: Path
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    _workers: list[psutil.Process] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.work / f"server-{self.port}.log"

    def start(self) -> Server:
        env = {
            **os.environ,
            "BENTOML_HOME": str(self.work / "bentoml"),
            "VIGIA_HOME": str(self.work / "home"),
            **self.env,
        }
        cmd = ["bentoml", "serve", SERVICE, "--host", "127.0.0.1", "--port", str(self.port)]
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
        return self

    def wait(self, path: str = "/readyz", timeout: float = 120) -> None:
        """Until ``path`` answers 200 (raises with the server log if it never does)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-3000:]}")
            try:
                if httpx.get(self.url + path, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        raise RuntimeError(f"{path} not 200 in {timeout}s: {self.log.read_text()[-3000:]}")

    def terminate(self) -> None:
        """SIGTERM to `bentoml serve`, as Kubernetes does; remembers its workers first."""
        assert self.process is not None
        if self.process.poll() is None:
            self._workers = psutil.Process(self.process.pid).children(recursive=True)
            self.process.send_signal(signal.SIGTERM)

    def stop(self, timeout: float = 60) -> int | None:
        """Terminate (if still running) and wait for the server and its workers to exit."""
        if self.process is None:
            return None
        self.terminate()
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        _, alive = psutil.wait_procs(self._workers, timeout=timeout)
        for worker in alive:
            worker.kill()
        return code


def metric(text: str, name: str, **labels: str) -> float:
    """Sum of the samples called ``name`` whose labels include ``labels``."""
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total
