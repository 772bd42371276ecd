"""Health probes over HTTPS and a polling helper."""

from __future__ import annotations

import http.client
import ssl
import time
from collections.abc import Callable
from pathlib import Path


def tls_context(
    ca: Path | None, cert: Path | None = None, key: Path | None = None
) -> ssl.SSLContext:
    """Verify against `ca` when given; components' self-signed serving certs are not."""
    if ca is None:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        context = ssl.create_default_context(cafile=str(ca))
    if cert is not None and key is not None:
        context.load_cert_chain(str(cert), str(key))
    return context


def https_ok(host: str, port: int, path: str, context: ssl.SSLContext) -> bool:
    """True when GET https://host:port/path answers 200."""
    connection = http.client.HTTPSConnection(host, port, timeout=3, context=context)
    try:
        connection.request("GET", path)
        return connection.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()


def poll(check: Callable[[], bool], timeout: float, what: str, *, interval: float = 0.25,
         alive: Callable[[], str | None] = lambda: None) -> None:
    """Wait until check() is true; `alive` returns an error message when waiting is futile
    (e.g. the process died), which is raised at once."""
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return
        problem = alive()
        if problem:
            raise TimeoutError(f"{what}: {problem}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not ready after {timeout:.0f}s")
        time.sleep(interval)
