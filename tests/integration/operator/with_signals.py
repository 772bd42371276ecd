"""`python3 -m tests.integration.operator.with_signals`: the operator, with a real simple
SignalProvider that hands every tick the conditions written in the JSON file named by
$VIGIA_TEST_SIGNALS (``{"<namespace>/<name>": [condition, ...]}``), so a test drives
Drifted / AccuracyLow without Prometheus (real Prometheus is the monitoring tests')."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from vigia_operator import __main__ as operator_main
from vigia_operator.core.clock import iso, utcnow
from vigia_operator.core.config import OperatorSettings
from vigia_operator.core.types import CONDITIONS, ModelRef, Signals
from vigia_operator.prometheus import providers
from vigia_operator.prometheus.providers import SignalProvider
from vigia_operator.view import ModelDeploymentView

SIGNALS_FILE = "VIGIA_TEST_SIGNALS"


class FileSignals:
    def __init__(self, path: Path) -> None:
        self.path = path

    async def collect(self, models: Sequence[ModelDeploymentView],
                      monitored: Sequence[ModelDeploymentView],
                      at: float) -> Mapping[ModelRef, Signals]:
        written = json.loads(self.path.read_text()) if self.path.exists() else {}
        found = {}
        for md in models:
            ref = ModelRef.of(md)
            conditions = written.get(str(ref))
            if conditions is not None:
                found[ref] = Signals(collected_at=iso(utcnow()), values={CONDITIONS: conditions})
        return found


def provider_for(settings: OperatorSettings, metrics: object = None) -> SignalProvider:
    return FileSignals(Path(os.environ[SIGNALS_FILE]))


if __name__ == "__main__":
    providers.provider_for = provider_for  # handlers import it by name when main() runs
    operator_main.main()
