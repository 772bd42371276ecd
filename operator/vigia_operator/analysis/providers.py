"""Which SignalProvider the tick uses, from the operator's configuration.

With VIGIA_OPERATOR_PROMETHEUS_URL set, one batched collection per tick: monitoring's
signals and the canaries' measurements, each provider under its own keys of
Signals.values; without it, every tick collects nothing. With VIGIA_OPERATOR_METRICS_PORT
set, the operator's own /metrics are served too.
"""

from __future__ import annotations

from prometheus_client import start_http_server

from vigia_operator.analysis.canary import CanaryProvider, CombinedProvider
from vigia_operator.analysis.client import PrometheusClient
from vigia_operator.analysis.exporter import OperatorMetrics
from vigia_operator.analysis.tick_provider import MonitoringProvider
from vigia_operator.config import OperatorSettings
from vigia_operator.engine.signals import NoSignals, SignalProvider
from vigia_operator.status import monitoring


def provider_for(settings: OperatorSettings) -> SignalProvider:
    exported = None
    if settings.metrics_port and not monitoring.EXPORTED:
        exported = OperatorMetrics()
        start_http_server(settings.metrics_port)
        monitoring.EXPORTED.append(exported)
    if not settings.prometheus_url:
        return NoSignals()
    client = PrometheusClient(settings.prometheus_url)
    return CombinedProvider(MonitoringProvider(client, exported), CanaryProvider(client))
