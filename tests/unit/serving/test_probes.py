"""The probes' own process (vigia_serving.probes): the kubelet gets the worker's latest
answers at once, and none once they are older than STALE_AFTER_S."""

from __future__ import annotations

import asyncio

from vigia_serving.probes import (
    HEALTHZ,
    READYZ,
    STALE_AFTER_S,
    Answer,
    Observed,
    answering,
    ask,
)

NOW = 1000.0


def observed(healthz: Answer, readyz: Answer) -> Observed:
    return Observed({HEALTHZ: healthz, READYZ: readyz})


def test_fresh_answers_are_given_as_the_worker_gave_them() -> None:
    seen = observed(Answer(200, b"\n", NOW - 1), Answer(503, b"loading\n", NOW - 1))
    assert seen.verdict(HEALTHZ, NOW) == (200, b"\n")
    assert seen.verdict(READYZ, NOW) == (503, b"loading\n")


def test_an_answer_older_than_the_bound_is_none() -> None:
    stale = NOW - STALE_AFTER_S - 0.1
    seen = observed(Answer(200, b"\n", stale), Answer(200, b"\n", NOW))
    status, body = seen.verdict(HEALTHZ, NOW)
    assert status == 503 and b"has not answered /healthz" in body
    # Readiness needs liveness: a worker that stopped answering is not ready either.
    assert seen.verdict(READYZ, NOW)[0] == 503


def test_before_any_answer_both_are_503() -> None:
    seen = Observed()
    assert seen.verdict(HEALTHZ, NOW)[0] == 503
    assert seen.verdict(READYZ, NOW)[0] == 503


async def test_the_probe_server_answers_from_what_it_observed() -> None:
    seen = observed(Answer(200, b"ok\n"), Answer(503, b"loading\n"))
    server = await asyncio.start_server(answering(seen), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        # ask() is what the process polls the worker with; here it asks the probes.
        healthz = await ask("127.0.0.1", port, HEALTHZ)
        readyz = await ask("127.0.0.1", port, READYZ)
        other = await ask("127.0.0.1", port, "/metrics")
    assert (healthz.status, healthz.body) == (200, b"ok\n")
    assert (readyz.status, readyz.body) == (503, b"loading\n")
    assert other.status == 404
