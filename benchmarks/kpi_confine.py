"""What confining a KPI to its namespace costs: parse, rewrite, render, re-parse and check
(prometheus/confine.py), per query, uncached (the operator caches the result per query
and namespace, so a tick pays this once per changed KPI).

Run: ``.venv/bin/python benchmarks/kpi_confine.py``.
"""

from __future__ import annotations

import time

from vigia_operator.prometheus.confine import confine

QUERIES = {
    "one selector": "sum(vigia_predictions_total)",
    "ratio of rates": (
        'sum(rate(vigia_predictions_total{model="m", class="defective"}[5m]))'
        ' / sum(rate(vigia_predictions_total{model="m"}[5m]))'),
    "quantile over a subquery": (
        "max_over_time(histogram_quantile(0.9, sum by (le) "
        "(rate(vigia_confidence_bucket[5m])))[1h:1m])"),
    "20 selectors": " + ".join(f"sum(rate(metric_{i}[5m]))" for i in range(20)),
}
ROUNDS = 200


def main() -> None:
    for label, query in QUERIES.items():
        started = time.perf_counter()
        for round_ in range(ROUNDS):
            confine.__wrapped__(query, f"ns-{round_}")
        each = (time.perf_counter() - started) / ROUNDS
        print(f"{label:28s} {len(query):4d} chars  {each * 1e6:8.1f} µs per confine")


if __name__ == "__main__":
    main()
