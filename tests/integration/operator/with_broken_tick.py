"""`python3 -m tests.integration.operator.with_broken_tick`: the operator, with a tick that
crashes every time it runs (as when what every tick reads is broken), so a test sees the
supervisor restart it and the liveness endpoint fail once no tick has completed for long."""

from __future__ import annotations

from vigia_operator import __main__ as operator_main
from vigia_operator.engine.tick import Tick, TickReport


async def crashing_once(self: Tick) -> TickReport:
    raise RuntimeError("the tick cannot complete (test)")


if __name__ == "__main__":
    Tick.once = crashing_once  # type: ignore[method-assign]
    operator_main.main()
