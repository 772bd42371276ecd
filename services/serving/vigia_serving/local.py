"""Run a model server as a local process (`bentoml serve`) on 127.0.0.1.

For the demo, the benchmarks and the tests: start it, wait until it answers, stop it
by its process id the way Kubernetes does (SIGTERM, then SIGKILL after a grace).
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

from vigia.settings import env_name

from .probes import PROBED_PATHS

SERVICE = "vigia_serving.service:VigiaModel"
HOST = "127.0.0.1"
# How many times a server is started on newly picked ports when the ones it was given were
# taken between their pick and its bind (another process picked them meanwhile).
PORT_ATTEMPTS = 3
ADDRESS_IN_USE = "Address already in use"


# Listening ports come from below the kernel's ephemeral range, which outgoing connections
# draw their source ports from: a port picked here and bound seconds later (a server starting
# on a loaded machine, with other test sessions connecting all the while) cannot have become
# some connection's source port meanwhile.
_PORTS = random.SystemRandom()  # not the random module: a test may seed that


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now, outside the ephemeral range."""
    low = _ephemeral_low()
    for _ in range(100):
        port = _PORTS.randrange(10000, low) if low > 11000 else 0
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((HOST, port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise OSError("no free port on 127.0.0.1")


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


class ServerFailed(RuntimeError):
    """The server exited or never became ready; the message ends with its log."""


@dataclass
class LocalServer:
    """One `bentoml serve` process; its log and state live under ``work``."""

    work: Path
    env: dict[str, str]
    service: str = SERVICE
    working_dir: Path | None = None
    port: int = field(default_factory=free_port)
    # The probes' own process (vigia_serving.probes) listens here.
    probe_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    _workers: list[psutil.Process] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def __post_init__(self) -> None:
        while self.probe_port == self.port:  # two picks of a free port may agree
            self.probe_port = free_port()

    @property
    def probe_url(self) -> str:
        return f"http://{HOST}:{self.probe_port}"

    @property
    def log(self) -> Path:
        return self.work / f"server-{self.port}.log"

    def start(self) -> LocalServer:
        env = {
            **os.environ,
            "BENTOML_HOME": str(self.work / "bentoml"),
            env_name("home"): str(self.work / f"home-{self.port}"),
            env_name("probe_port"): str(self.probe_port),
            **self.env,
        }
        # This interpreter's BentoML (the project's venv), not whatever `bentoml` is on PATH.
        cmd = [sys.executable, "-m", "bentoml", "serve", self.service]
        cmd += ["--host", HOST, "--port", str(self.port)]
        if self.working_dir is not None:
            cmd += ["--working-dir", str(self.working_dir)]
        self.work.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
        return self

    def start_ready(self, timeout: float = 300) -> LocalServer:
        """Start and wait until ready; a server that never gets there is stopped. A port
        taken between its pick and the server's bind is picked again (PORT_ATTEMPTS)."""
        for attempt in range(1, PORT_ATTEMPTS + 1):
            self.start()
            try:
                return self.wait(timeout=timeout)
            except ServerFailed as failed:
                self.stop()
                if ADDRESS_IN_USE not in str(failed) or attempt == PORT_ATTEMPTS:
                    raise
                self._pick_ports()
            except BaseException:
                self.stop()
                raise
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _pick_ports(self) -> None:
        self.port, self.probe_port = free_port(), free_port()
        self.__post_init__()

    def wait(self, path: str = "/readyz", timeout: float = 300) -> LocalServer:
        """Until ``path`` answers 200, on the server's port and (for a probe's path, when
        the probes have a process) on the probes'; raises ServerFailed with the log if it
        never does."""
        deadline = time.monotonic() + timeout
        urls = [self.url + path]
        if (path in PROBED_PATHS and self.service == SERVICE
                and self.env.get(env_name("probe_port")) != "0"):
            urls.append(self.probe_url + path)
        while urls and time.monotonic() < deadline:
            assert self.process is not None, "start() the server first"
            if self.process.poll() is not None:
                raise ServerFailed(f"server exited: {self._log_tail()}")
            try:
                if httpx.get(urls[0], timeout=2).status_code == 200:
                    urls.pop(0)
                    continue
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        if not urls:
            return self
        raise ServerFailed(f"{urls[0]} not 200 in {timeout}s: {self._log_tail()}")

    def terminate(self) -> None:
        """SIGTERM to `bentoml serve`, as Kubernetes does; remembers its workers first."""
        assert self.process is not None, "start() the server first"
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

    def _log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]
