"""Which SignalProvider the tick uses, from the operator's configuration.

Monitoring (issue 10) returns its Prometheus provider here when
VIGIA_OPERATOR_PROMETHEUS_URL is set; until then every tick collects nothing.
"""

from __future__ import annotations

from vigia_operator.config import OperatorSettings
from vigia_operator.engine.signals import NoSignals, SignalProvider


def provider_for(settings: OperatorSettings) -> SignalProvider:
    return NoSignals()
