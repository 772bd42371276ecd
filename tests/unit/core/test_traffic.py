from __future__ import annotations

from vigia_testbed.net import free_port

from vigia.traffic import batches, send


def test_batches_cover_the_rows_or_go_on_without_repeating() -> None:
    sizes = [len(records) for records, _ in batches(250, seed=1, drift=0.0, batch=100)]
    assert sizes == [100, 100, 50]
    endless = batches(None, seed=1, drift=1.0, batch=5)
    first, second = next(endless)[0], next(endless)[0]
    assert len(first) == len(second) == 5 and first != second


def test_a_server_that_is_not_there_is_counted_not_fatal() -> None:
    sent = send(f"http://127.0.0.1:{free_port()}", 30, seed=1, drift=0.0, batch=10).as_dict()
    assert (sent["rows"], sent["feedback"], sent["errors"]) == (0, 0, 3)
    assert "ConnectError" in sent["lastError"]
