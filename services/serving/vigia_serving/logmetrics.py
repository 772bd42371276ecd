"""Health of the prediction log as a metric: rows dropped, by reason.

Exported whether or not monitoring is on: it says what the log lost, not how the model
does. The dropped-rows counter has only a ``reason`` label (Prometheus adds the pod's own
labels on scrape); the health gauges carry the server's labels (namespace, model, version, track),
so the operator can ask for one ModelDeployment's.
"""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge

from vigia import metrics

from .store import DROP_BUFFER_FULL, DROP_REFUSED, DropCallback, HealthCallback


def dropped_rows_counter(registry: CollectorRegistry = REGISTRY) -> DropCallback:
    """A callback for PredictionStore(on_drop=...) counting into ``registry``."""
    counter = Counter(
        metrics.PREDICTION_LOG_DROPPED,
        "Prediction-log rows dropped: buffer full while the database was unreachable, "
        "or refused by the database.",
        [metrics.LABEL_REASON],
        registry=registry,
    )
    children = {reason: counter.labels(reason) for reason in (DROP_BUFFER_FULL, DROP_REFUSED)}

    def count(reason: str, rows: int) -> None:
        children[reason].inc(rows)

    return count


def health_gauges(
    identity: tuple[str, str, str, str], registry: CollectorRegistry = REGISTRY
) -> HealthCallback:
    """A callback for PredictionStore(on_health=...): reachable (the lowest of the
    workers') and rows buffered (their sum), labelled with ``identity`` (the values of
    ``metrics.SERVER_LABELS``: namespace, model, version, track)."""
    labels = metrics.SERVER_LABELS
    up = Gauge(
        metrics.PREDICTION_LOG_UP,
        "1 while the prediction log's database can be written, 0 while it cannot.",
        labels, registry=registry, multiprocess_mode="livemin",
    ).labels(*identity)
    buffered = Gauge(
        metrics.PREDICTION_LOG_BUFFERED,
        "Prediction-log rows in memory, not yet written to the database.",
        labels, registry=registry, multiprocess_mode="livesum",
    ).labels(*identity)

    def report(healthy: bool, rows: int) -> None:
        up.set(1 if healthy else 0)
        buffered.set(rows)

    return report
