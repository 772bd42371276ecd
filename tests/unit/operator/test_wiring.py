"""kopf wiring of a child kind a cluster may not serve: one line of its own, kopf's own
line about it left out, the engine told which kinds are not watched."""

from __future__ import annotations

import logging

import pytest
from vigia_operator.core import resources as r
from vigia_operator.handlers import KOPF_OBSERVATION, SaidAlready, unserved_kinds


class Discovery:
    """What ``Kube.serves`` answers, and for which kinds it was asked."""

    def __init__(self, served: set[str]) -> None:
        self.served = served
        self.asked: list[str] = []

    async def serves(self, kind: r.ChildKind) -> bool:
        self.asked.append(kind.kind)
        return kind.kind in self.served


def _kopf_line(*plurals: str) -> logging.LogRecord:
    """kopf 1.45's warning for handlers whose resource its scan did not find."""
    selectors = ", ".join(f"Selector(group='g', version='v1', plural='{p}')" for p in plurals)
    return logging.LogRecord(KOPF_OBSERVATION, logging.WARNING, __file__, 1,
                             f"Unresolved resources cannot be served (try creating their "
                             f"CRDs): {selectors}", None, None)


async def test_without_the_gateway_api_one_line_says_so(caplog: pytest.LogCaptureFixture
                                                        ) -> None:
    kopf_logger = logging.getLogger(KOPF_OBSERVATION)
    before = list(kopf_logger.filters)
    caplog.set_level(logging.INFO, logger="vigia_operator.handlers")
    try:
        unserved = await unserved_kinds(Discovery(served=set()))
        assert unserved == frozenset({r.HTTPROUTE})
        (line,) = [rec.getMessage() for rec in caplog.records]
        assert line.startswith("HTTPRoutes are not watched: the cluster does not serve "
                               "httproutes.gateway.networking.k8s.io/v1 (the Gateway API "
                               "CRDs are not installed).")
        assert "APINotServed" in line
        (added,) = [f for f in kopf_logger.filters if f not in before]
        assert isinstance(added, SaidAlready)
        assert not added.filter(_kopf_line("httproutes"))
    finally:
        kopf_logger.filters[:] = before


async def test_with_the_gateway_api_nothing_is_said_or_filtered(
        caplog: pytest.LogCaptureFixture) -> None:
    before = list(logging.getLogger(KOPF_OBSERVATION).filters)
    caplog.set_level(logging.INFO, logger="vigia_operator.handlers")
    discovery = Discovery(served={"HTTPRoute"})
    assert await unserved_kinds(discovery) == frozenset()
    assert discovery.asked == ["HTTPRoute"]  # only the kinds a cluster may lack
    assert caplog.records == []
    assert logging.getLogger(KOPF_OBSERVATION).filters == before


def test_kopf_lines_about_anything_else_are_kept() -> None:
    said = SaidAlready(frozenset({r.HTTPROUTE}))
    assert said.filter(_kopf_line("widgets"))
    assert said.filter(_kopf_line("httproutes", "widgets"))
    other = logging.LogRecord(KOPF_OBSERVATION, logging.WARNING, __file__, 1,
                              "Ambiguous resources will not be served", None, None)
    assert said.filter(other)
