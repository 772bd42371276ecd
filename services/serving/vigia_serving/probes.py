"""Liveness and readiness answered by a process of their own, on VIGIA_PROBE_PORT.

Why a process: in the worker, /healthz waits for the interpreter lock, and prediction work
holds it in single calls of 30 to 70 ms (orjson parsing an 8 MiB body, the cyclic garbage
collector over a large request's objects, numpy and pandas conversions; measured in
docs/serving.md, "Probes"), which a loaded CPU stretches past the 100 ms a probe may take.
No thread or middleware of the worker escapes that lock; this process shares nothing with
it and imports only the standard library.

What the probes check is unchanged: this process asks the worker's own /healthz and
/readyz (its whole HTTP stack, as the kubelet did) every POLL_INTERVAL_S, each with the
kubelet's timeout, and answers the kubelet at once with what they last said. An answer
older than STALE_AFTER_S counts as none: a worker whose event loop stops for longer fails
liveness, as a probe timing out did. The process leaves when the worker that started it
does (a restarted worker starts a new one); the worker starts it again if it exits.

    python -m vigia_serving.probes --port 3001 --server 127.0.0.1:3000
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Final

HEALTHZ: Final = "/healthz"
READYZ: Final = "/readyz"
PROBED_PATHS: Final = (HEALTHZ, READYZ)
# How often the worker is asked; readiness follows it this much later at most.
POLL_INTERVAL_S: Final = 0.5
# The kubelet's probe timeout (the operator's probes say 2 s): a poll waits as long.
POLL_TIMEOUT_S: Final = 2.0
# A worker whose latest answer is older than a poll's timeout and interval has stopped
# answering for longer than a kubelet's probe would have waited.
STALE_AFTER_S: Final = POLL_TIMEOUT_S + POLL_INTERVAL_S
# A probe request is a request line and a few headers.
MAX_REQUEST_BYTES: Final = 8 * 1024
READ_TIMEOUT_S: Final = 5.0
# A worker restarted at once finds its predecessor's process still leaving for this long.
BIND_ATTEMPTS: Final = 40
BIND_PAUSE_S: Final = 0.25
NO_ANSWER: Final = b"no answer from the server yet\n"
RESTART_PAUSE_S: Final = 1.0

# A child of BentoML's server logger (in the worker), as vigia_serving.service's.
log = logging.getLogger("bentoml.serve.vigia")


class ProbeRequestError(ValueError):
    """A request this server does not take (not a GET of a path, or too large)."""


@dataclass
class Answer:
    """What the worker last answered on one path, and when (time.monotonic())."""

    status: int = 503
    body: bytes = NO_ANSWER
    at: float = field(default_factory=time.monotonic)


@dataclass
class Observed:
    """The worker's latest answers on each probed path."""

    answers: dict[str, Answer] = field(
        default_factory=lambda: {path: Answer() for path in PROBED_PATHS})

    def verdict(self, path: str, now: float) -> tuple[int, bytes]:
        """The status and body to give the kubelet: the worker's own answer while it is
        fresh; readiness also needs liveness."""
        checked = (HEALTHZ,) if path == HEALTHZ else (HEALTHZ, path)
        for each in checked:
            answer = self.answers[each]
            if now - answer.at > STALE_AFTER_S:
                age = now - answer.at
                return 503, f"the server has not answered {each} for {age:.1f} s\n".encode()
            if answer.status != 200:
                return answer.status, answer.body
        return 200, self.answers[path].body


async def ask(host: str, port: int, path: str) -> Answer:
    """One GET of ``path`` from the worker; raises OSError or TimeoutError."""
    async with asyncio.timeout(POLL_TIMEOUT_S):
        reader, writer = await asyncio.open_connection(host, port)
        try:
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
                         .encode())
            await writer.drain()
            reply = b""
            while len(reply) < MAX_REQUEST_BYTES and (chunk := await reader.read(
                    MAX_REQUEST_BYTES)):
                reply += chunk
        finally:
            writer.close()
    head, _, body = reply.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return Answer(status, body[:512] or b"\n")


async def poll(observed: Observed, host: str, port: int, parent: int) -> None:
    """Ask the worker every POLL_INTERVAL_S; stop when the parent has gone."""
    while os.getppid() == parent:
        for path in PROBED_PATHS:
            with contextlib.suppress(OSError, TimeoutError, ValueError, IndexError):
                observed.answers[path] = await ask(host, port, path)
        await asyncio.sleep(POLL_INTERVAL_S)


async def read_path(reader: asyncio.StreamReader) -> str:
    """The path of a GET; its headers are read and ignored."""
    async with asyncio.timeout(READ_TIMEOUT_S):
        head = await reader.readuntil(b"\r\n\r\n")
    method, path, *_ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
    if method not in ("GET", "HEAD"):
        raise ProbeRequestError(method)
    return path.split("?", 1)[0]


def response(status: int, body: bytes) -> bytes:
    reason = {200: "OK", 404: "Not Found", 400: "Bad Request"}.get(status, "Unavailable")
    return (f"HTTP/1.1 {status} {reason}\r\ncontent-type: text/plain\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n").encode() + body


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def answering(observed: Observed) -> Handler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            try:
                path = await read_path(reader)
            except OSError:  # the prober went away
                return
            if path in PROBED_PATHS:
                writer.write(response(*observed.verdict(path, time.monotonic())))
            else:
                writer.write(response(404, b"only /healthz and /readyz\n"))
        except (ProbeRequestError, asyncio.LimitOverrunError, asyncio.IncompleteReadError,
                TimeoutError, ValueError):
            writer.write(response(400, b"a GET of /healthz or /readyz\n"))
        finally:
            with contextlib.suppress(OSError):
                await writer.drain()
                writer.close()

    return handle


async def listen(host: str, port: int, observed: Observed) -> asyncio.Server:
    for _ in range(BIND_ATTEMPTS - 1):
        try:
            return await asyncio.start_server(answering(observed), host, port,
                                              limit=MAX_REQUEST_BYTES, reuse_address=True)
        except OSError:
            await asyncio.sleep(BIND_PAUSE_S)
    return await asyncio.start_server(answering(observed), host, port,
                                      limit=MAX_REQUEST_BYTES, reuse_address=True)


async def serve(host: str, port: int, server_host: str, server_port: int, parent: int) -> None:
    observed = Observed()
    server = await listen(host, port, observed)
    async with server:
        await poll(observed, server_host, server_port, parent)


def start(host: str, port: int, probe_port: int) -> subprocess.Popen[bytes]:
    """This module as a child of the calling worker, which listens on ``host:port``; the
    probes listen on the same interface."""
    asked = "127.0.0.1" if host in ("0.0.0.0", "") else host
    return subprocess.Popen(
        [sys.executable, "-m", "vigia_serving.probes", "--host", host, "--port", str(probe_port),
         "--server", f"{asked}:{port}", "--parent", str(os.getpid())],
        stdin=subprocess.DEVNULL)


def keep_running(host: str, port: int, probe_port: int) -> threading.Thread:
    """``start`` now, and again whenever the process exits while the worker lives (a
    thread of the worker's; it ends with it)."""

    def supervise() -> None:
        while True:
            code = start(host, port, probe_port).wait()
            log.warning("the probes' process exited (%s); starting it again", code)
            time.sleep(RESTART_PAUSE_S)

    thread = threading.Thread(target=supervise, name="vigia-probes", daemon=True)
    thread.start()
    return thread


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--server", required=True, help="host:port of the worker")
    parser.add_argument("--parent", type=int, default=None,
                        help="leave when this process is no longer the parent")
    args = parser.parse_args(argv)
    server_host, _, server_port = args.server.rpartition(":")
    parent = args.parent if args.parent is not None else os.getppid()
    asyncio.run(serve(args.host, args.port, server_host, int(server_port), parent))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
