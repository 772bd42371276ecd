"""The device runner as a long-running process: follows the release, serves predictions.

    python3 -m vigia.onnx.device --release URL/release.json --store DIR [--interval 60]
        [--port 8099] [--telemetry URL --report-interval 300]

On 127.0.0.1 only: ``POST /predict`` ``{"rows": [...]}`` answers ``{"version",
"predictions"}``; ``GET /status`` the version served, the switches made and the last
refusal. The release is checked every ``--interval`` seconds (vigia.onnx.follow). With
``--telemetry`` (opt-in) the aggregates of the predictions are sent every
``--report-interval`` seconds and when the version changes (vigia.onnx.telemetry).
numpy, onnxruntime and the standard library only.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from collections.abc import Sequence
from dataclasses import asdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from vigia.onnx.follow import Follower
from vigia.onnx.runner import OnnxModel, RowError
from vigia.onnx.telemetry import Aggregates, send_report

LOOPBACK = "127.0.0.1"
MAX_BODY_BYTES = 8 * 1024 * 1024


class Device:
    """A Follower plus opt-in telemetry."""

    def __init__(self, release_url: str, store: Path, telemetry: str | None = None) -> None:
        self.telemetry = telemetry
        self.follower = Follower(release_url, store, on_switch=self._switching)
        if self.follower.model is not None:
            self._watch(self.follower.model)

    def _watch(self, model: OnnxModel) -> None:
        if self.telemetry:
            model.aggregates = Aggregates(model.manifest)

    def _switching(self, new: OnnxModel) -> None:
        """Before the switch: the old version's counts go out under its own version."""
        self.report()
        self._watch(new)

    def report(self) -> None:
        model = self.follower.model
        if not self.telemetry or model is None or model.aggregates is None:
            return
        report = model.aggregates.take_report()
        if report["predictions"] or report["feedback"]:
            try:
                send_report(self.telemetry, report)
            except OSError as exc:  # the server is away: these counts are lost, not retried
                self.follower.last_error = f"telemetry: {exc}"

    def status(self) -> dict[str, Any]:
        return {
            "version": self.follower.version,
            "switches": [asdict(s) for s in self.follower.switches],
            "last_error": self.follower.last_error,
        }


def handler_for(device: Device) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path == "/status":
                self._answer(200, device.status())
            else:
                self._answer(404, {"error": f"no {self.path}"})

        def do_POST(self) -> None:
            if self.path != "/predict":
                self._answer(404, {"error": f"no {self.path}"})
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY_BYTES:
                self._answer(413, {"error": f"body: at most {MAX_BODY_BYTES} bytes"})
                return
            model = device.follower.model  # one read: the whole request uses one version
            if model is None:
                self._answer(503, {"error": "no version yet", "detail": device.status()})
                return
            try:
                rows = json.loads(self.rfile.read(length))["rows"]
                predictions = model.predict(rows)
            except RowError as exc:
                self._answer(422, {"error": str(exc), "field": exc.field})
                return
            except (ValueError, KeyError, TypeError) as exc:
                self._answer(400, {"error": f"body: {exc}"})
                return
            self._answer(200, {"version": model.manifest.version, "predictions": predictions})

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m vigia.onnx.device")
    parser.add_argument("--release", required=True, help="URL of release.json")
    parser.add_argument("--store", required=True, help="folder for the versions")
    parser.add_argument("--interval", type=float, default=60.0, help="seconds between checks")
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--telemetry", default=None, help="opt-in: POST aggregates here")
    parser.add_argument("--report-interval", type=float, default=300.0)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    device = Device(args.release, Path(args.store), args.telemetry)
    stop = threading.Event()
    threading.Thread(target=device.follower.run, args=(args.interval, stop), daemon=True).start()
    if args.telemetry:
        def reporting() -> None:
            while not stop.wait(args.report_interval):
                device.report()

        threading.Thread(target=reporting, daemon=True).start()
    server = ThreadingHTTPServer((LOOPBACK, args.port), handler_for(device))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        device.report()
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
