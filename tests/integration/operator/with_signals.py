"""`python3 -m tests.integration.operator.with_signals`: the operator, with a real simple
SignalProvider that hands every tick what the JSON file named by $VIGIA_TEST_SIGNALS holds
for each ModelDeployment, so a test drives the operator's decisions without Prometheus
(real Prometheus is the monitoring and rollout tests'). Per ``"<namespace>/<name>"``:

- a list: trigger conditions handed as they are (Drifted / AccuracyLow), or
- ``{"monitoring": {"tracks": {"<track>/<version>": {TrackSignals fields}}, "kpis": {...},
  "kpiErrors": {...}}, "canary": {"<track>/<version>": {TrackMeasurements fields}}}``:
  the measurements the monitoring decision and the canary analysis judge, as the
  Prometheus providers file them (a track's ``last_scrape`` is the tick's time); with
  ``"error"``: why the collection failed (Prometheus down).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from vigia_operator import __main__ as operator_main
from vigia_operator.core.clock import iso, utcnow
from vigia_operator.core.config import OperatorSettings
from vigia_operator.core.types import (
    CANARY,
    CONDITIONS,
    MONITORING,
    MONITORING_AT,
    ModelRef,
    Signals,
)
from vigia_operator.decide.measurements import ModelSignals, TrackSignals
from vigia_operator.decide.rollout.gates import TrackMeasurements
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
        due = {ModelRef.of(md) for md in monitored}
        found = {}
        for md in models:
            ref = ModelRef.of(md)
            given = written.get(str(ref))
            if isinstance(given, list):
                found[ref] = Signals(collected_at=iso(utcnow()), values={CONDITIONS: given})
            elif isinstance(given, dict):
                found[ref] = Signals(collected_at=iso(utcnow()),
                                     values=measured(given, at, ref in due),
                                     error=given.get("error"))
        return found


def measured(given: Mapping[str, Any], at: float, due: bool) -> dict[str, Any]:
    """``Signals.values`` as the Prometheus providers file them."""
    values: dict[str, Any] = {}
    monitoring = given.get("monitoring")
    if monitoring is not None and due:
        tracks = {_key(key): _track(fields, at)
                  for key, fields in monitoring.get("tracks", {}).items()}
        values[MONITORING] = ModelSignals(tracks=tracks, kpis=monitoring.get("kpis", {}),
                                          kpi_errors=monitoring.get("kpiErrors", {}))
        values[MONITORING_AT] = at
    canary = given.get("canary")
    if canary is not None:
        values[CANARY] = {_key(key): TrackMeasurements(**fields)
                          for key, fields in canary.items()}
    return values


def _track(fields: Mapping[str, Any], at: float) -> TrackSignals:
    below = {float(le): share for le, share in (fields.get("confidence_below") or {}).items()}
    return TrackSignals(**{"last_scrape": at, **fields, "confidence_below": below})


def _key(text: str) -> tuple[str, str]:
    track, _, version = text.partition("/")
    return track, version


def provider_for(settings: OperatorSettings, metrics: object = None) -> SignalProvider:
    return FileSignals(Path(os.environ[SIGNALS_FILE]))


if __name__ == "__main__":
    providers.provider_for = provider_for  # handlers import it by name when main() runs
    operator_main.main()
