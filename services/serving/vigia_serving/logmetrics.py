"""Health of the prediction log as a metric: rows dropped, by reason.

Exported whether or not monitoring is on: it says what the log lost, not how the model
does. Only a ``reason`` label; Prometheus adds the pod's own labels on scrape.
"""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Counter

from vigia import metrics

from .store import DROP_BUFFER_FULL, DROP_REFUSED, DropCallback


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
