"""The largest /predict a server allows: as many sample rows as its body limit holds.

Rows in the arrays form (values in schema order), the form with the most rows per byte
and so the most work and memory per byte. Used by tests/integration/serving/test_bounds.py
and benchmarks/healthz_under_load.py.
"""

from __future__ import annotations

import orjson

from vigia.bundle import ModelBundle
from vigia.sample import traffic_records


def largest_body(bundle: ModelBundle, max_body_bytes: int, max_rows: int) -> tuple[bytes, int]:
    """A /predict body of at most ``max_body_bytes`` and ``max_rows`` rows, as full as
    both allow; with its number of rows."""
    names = list(bundle.metadata.schema.names)
    records, _ = traffic_records(2000, seed=3)
    pattern = [[record.get(name) for name in names] for record in records]
    per_row = len(orjson.dumps(pattern)) / len(pattern) + 1
    rows = min(max_rows, int(max_body_bytes / per_row))
    while True:
        body = orjson.dumps({"rows": [pattern[i % len(pattern)] for i in range(rows)]})
        if len(body) <= max_body_bytes:
            return body, rows
        rows -= max(1, (len(body) - max_body_bytes) // int(per_row) + 1)
