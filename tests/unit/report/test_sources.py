from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from vigia.report.sources import (
    FRAME_COLUMNS,
    MetricsUnavailableError,
    NoMetrics,
    PrometheusSource,
    StoreSource,
    Window,
    utc,
)

START = datetime(2026, 1, 1, tzinfo=UTC)
WINDOW = Window(START, START + timedelta(hours=1))


def test_window_refuses_naive_or_reversed_times() -> None:
    with pytest.raises(ValueError, match="time zone"):
        Window(datetime(2026, 1, 1), datetime(2026, 1, 2))
    with pytest.raises(ValueError, match="is not after start"):
        Window(START, START)
    assert utc("2026-01-01T00:00:00") == START


def test_store_without_tables_gives_an_empty_frame(tmp_path: Path) -> None:
    source = StoreSource(f"sqlite:///{tmp_path}/none.db")
    frame = source.predictions("sobaos", WINDOW)
    assert frame.empty and list(frame.columns) == list(FRAME_COLUMNS)


class _Prometheus(BaseHTTPRequestHandler):
    """Answers /api/v1/query_range like Prometheus; "bad" queries get its error body."""

    def do_GET(self) -> None:
        query = parse_qs(urlparse(self.path).query)
        if query["query"][0] == "bad":
            body: dict[str, Any] = {"status": "error", "error": "parse error"}
            code = 400
        else:
            start = float(query["start"][0])
            values = [[start, "1.5"], [start + 60, "2.5"]]
            result = [{"metric": {"track": "stable"}, "values": values}]
            body, code = {"status": "success", "data": {"result": result}}, 200
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture()
def prometheus() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Prometheus)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_range_query_parses_series(prometheus: str) -> None:
    (series,) = PrometheusSource(prometheus).range_query("up", WINDOW, 60)
    assert series.labels == {"track": "stable"}
    assert series.values.tolist() == [1.5, 2.5]
    assert series.times[0] == START


def test_refused_query_and_unreachable_server_are_metrics_unavailable(prometheus: str) -> None:
    with pytest.raises(MetricsUnavailableError, match="refused 'bad': parse error"):
        PrometheusSource(prometheus).range_query("bad", WINDOW, 60)
    with pytest.raises(MetricsUnavailableError, match="did not answer"):
        PrometheusSource("http://127.0.0.1:9", timeout_s=2).range_query("up", WINDOW, 60)
    with pytest.raises(MetricsUnavailableError, match="no Prometheus URL"):
        NoMetrics().range_query("up", WINDOW, 60)


def test_store_rows_of_one_namespace(tmp_path: Path) -> None:
    """Models named "sobaos" in staging and prod share the store: --namespace keeps one."""
    from vigia_serving.store import PredictionRecord, PredictionStore

    url = f"sqlite:///{tmp_path}/log.db"
    store = PredictionStore(url)
    store.create_tables()
    at = START + timedelta(minutes=5)
    store.log([PredictionRecord(f"{ns}-{i}", at, "sobaos", "1", "stable", None, "good",
                                {"good": 1.0}, ns)
               for ns, n in (("staging", 3), ("prod", 2)) for i in range(n)])
    store.flush()
    store.engine.dispose()
    assert len(StoreSource(url).predictions("sobaos", WINDOW)) == 5
    assert len(StoreSource(url, "prod").predictions("sobaos", WINDOW)) == 2
