"""Every status section the operator writes is one the CRD declares: a status that breaks
the schema is refused by the API server (StatusRefused), and an undeclared field is pruned
in silence. One reconcile's decisions, for a model that is drifting with a canary in flight
and a retraining starting, put every section in status at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import jsonschema
from vigia_operator.core import reasons
from vigia_operator.core.clock import iso
from vigia_operator.core.config import OperatorSettings
from vigia_operator.core.types import MONITORING, MONITORING_AT, Signals
from vigia_operator.decide.measurements import ModelSignals, TrackSignals
from vigia_operator.engine.decide import (
    ChildrenDecision,
    Observation,
    decide_children,
    decide_status,
)
from vigia_operator.status.compose import compose
from vigia_operator.view import parse
from vigia_operator.view.retraining import parse_retraining

from tests.unit.operator.schema import defaulted_sample, schema, undeclared

NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
SECTIONS = ("serving", "stable", "canary", "history", "monitoring", "retraining")


def _drifting(at: float) -> ModelSignals:
    track = TrackSignals(
        feature_rows={"oven_temperature": 900.0}, feature_psi={"oven_temperature": 0.7},
        feature_jensen_shannon={"oven_temperature": 0.4}, predictions=900.0,
        prediction_shift=0.05, feedback=300.0, accuracy=0.8, confidence_mean=0.8,
        confidence_below={0.6: 0.1, 1.0: 1.0}, last_scrape=at - 5)
    return ModelSignals(tracks={("stable", "1"): track}, kpis={"defects": 3.0})


def test_one_reconcile_writes_every_section_within_the_schema() -> None:
    body = defaulted_sample()
    body["metadata"]["creationTimestamp"] = iso(NOW - timedelta(days=1))
    body["spec"]["serving"]["predictionLog"]["storeSecretRef"] = {"name": "db", "key": "url"}
    stable = {"version": "0", "uri": "file:///models/sobaos/0.bentomodel",
              "since": iso(NOW - timedelta(hours=1))}
    history = [{"version": "0", "uri": stable["uri"], "outcome": "Promoted",
                "at": stable["since"], "message": "first"}]
    status: dict[str, Any] = {"stable": stable, "history": history, "observedGeneration": 1}
    at = NOW.timestamp()
    seen = Observation(body=body, md=parse(body), retraining=parse_retraining(body),
                       status=status, children={},
                       signals=Signals(iso(NOW), values={MONITORING: _drifting(at),
                                                         MONITORING_AT: at}),
                       now=NOW, tick=True)
    settings = OperatorSettings()
    children = decide_children(seen, settings)
    assert isinstance(children, ChildrenDecision)
    decided = decide_status(seen, children, {}, settings)
    written = compose(status, decided.update, iso(NOW))

    assert set(SECTIONS) <= set(written)
    assert decided.job is not None  # the drift started a retraining
    assert {c["type"] for c in written["conditions"]} >= {
        reasons.READY, reasons.PROGRESSING, reasons.DEGRADED, reasons.DRIFTED,
        reasons.RETRAINING}
    node = schema()["properties"]["status"]
    assert undeclared(written, node, "status") == []
    jsonschema.Draft4Validator(node).validate(written)
