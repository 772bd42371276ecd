"""How much request data a worker may hold at once, derived from the container's memory.

Bounds that are each fine multiply past the pod: 128 requests at once x 8 MiB bodies is
the whole of a 1 GiB limit before a single body is parsed, and a parsed body costs a
multiple of its bytes (rows become Python objects, columns, a frame, prediction ids,
records for the log and the answer). So the bodies a worker holds at once are bounded in
bytes, from the memory limit:

    bodies in flight (bytes) x BODY_EXPANSION <= REQUEST_MEMORY_SHARE x limit / workers

The largest body is at most that budget (one request always fits), and the number of
requests at once is at most the budget over MIN_REQUEST_BYTES (what the smallest request
is counted as). Configured values (VIGIA_MAX_BODY_BYTES, VIGIA_MAX_CONCURRENCY) can only
lower these. docs/serving.md ("Memory bounds") has the figures behind the constants.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

# What requests in flight may take of the container's memory; the rest is the interpreter,
# the model, the prediction log's buffer and the allocator's slack.
REQUEST_MEMORY_SHARE: Final = 0.5
# Memory a /predict takes per byte of its body. benchmarks/healthz_under_load.py measured
# the server's RSS grow by 10 to 16 times the body (the arrays form, the most rows per
# byte, so the worst case) with RSS sampled every 20 ms; the rest is margin for peaks
# the sampling misses and for the allocator's fragmentation.
BODY_EXPANSION: Final = 24
# What a request counts for however small its body: headers, objects, its answer.
MIN_REQUEST_BYTES: Final = 16 * 1024
# The limit assumed where the cgroup sets none (a process outside a container).
DEFAULT_MEMORY_LIMIT: Final = 1024**3
# cgroup v2, then v1. "max" (v2) or a value near 2**63 (v1) means no limit.
CGROUP_MEMORY_FILES: Final = (Path("/sys/fs/cgroup/memory.max"),
                              Path("/sys/fs/cgroup/memory/memory.limit_in_bytes"))
UNLIMITED_FROM: Final = 2**60


@dataclass(frozen=True)
class MemoryLimit:
    bytes: int
    source: str  # the cgroup file it came from, "configured" or "default"


@dataclass(frozen=True)
class Bounds:
    memory_limit: MemoryLimit
    body_budget: int  # bytes of request bodies one worker holds at once
    max_body_bytes: int
    max_concurrency: int

    def describe(self) -> str:
        mib = 1024 * 1024
        return (f"memory limit {self.memory_limit.bytes / mib:.0f} MiB "
                f"({self.memory_limit.source}): bodies in flight at most "
                f"{self.body_budget / mib:.1f} MiB per worker, one body at most "
                f"{self.max_body_bytes / mib:.1f} MiB, at most {self.max_concurrency} "
                "requests at once")


def cgroup_limit(files: Sequence[Path] = CGROUP_MEMORY_FILES) -> tuple[int, Path] | None:
    """The cgroup's memory limit and the file that says it; None when unlimited or unread."""
    for path in files:
        try:
            text = path.read_text().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < UNLIMITED_FROM:
            return int(text), path
        return None  # "max", or v1's "unlimited": the first readable file decides
    return None


def memory_limit(configured: int | None,
                 files: Sequence[Path] = CGROUP_MEMORY_FILES) -> MemoryLimit:
    """The container's limit; a configured value can only lower it (or stands in for it
    where there is none); without either, DEFAULT_MEMORY_LIMIT."""
    found = cgroup_limit(files)
    if found is not None and (configured is None or found[0] <= configured):
        return MemoryLimit(found[0], str(found[1]))
    if configured is not None:
        return MemoryLimit(configured, "configured")
    return MemoryLimit(DEFAULT_MEMORY_LIMIT, "default")


def derive_bounds(limit: MemoryLimit, workers: int, max_body_bytes: int,
                  max_concurrency: int) -> Bounds:
    """Body and concurrency bounds under ``limit``; the configured ones only lower them."""
    budget = int(limit.bytes * REQUEST_MEMORY_SHARE / max(workers, 1) / BODY_EXPANSION)
    budget = max(budget, MIN_REQUEST_BYTES)
    return Bounds(
        memory_limit=limit,
        body_budget=budget,
        max_body_bytes=min(max_body_bytes, budget),
        max_concurrency=max(1, min(max_concurrency, budget // MIN_REQUEST_BYTES)),
    )


def request_cost(declared: str | None, max_body_bytes: int) -> int:
    """Bytes a request is counted for while in flight: its declared length (at most the
    largest body), or the largest body when it declares none (a chunked body)."""
    if declared is not None and declared.isdigit():
        size = min(int(declared), max_body_bytes)
    else:
        size = max_body_bytes
    return max(size, MIN_REQUEST_BYTES)
