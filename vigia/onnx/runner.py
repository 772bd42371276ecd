"""The device runner: a ``model.onnx`` and its ``model.json`` run with onnxruntime alone.

No scikit-learn, pandas or server: numpy, onnxruntime and the standard library. Rows
are checked against the bundle's schema (a clear error names the row and feature),
then fed to the graph the way the exporter declared its inputs.

    python3 -m vigia.onnx.runner DIR < rows.jsonl > predictions.jsonl
    python3 -m vigia.onnx.runner DIR --telemetry URL < rows.jsonl   # opt-in: aggregates only
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import onnxruntime as ort

from vigia.onnx.manifest import (
    MANIFEST_FILE,
    MATRIX_INPUT,
    MODEL_FILE,
    PROBABILITIES_OUTPUT,
    Manifest,
)

if TYPE_CHECKING:
    from vigia.onnx.telemetry import Aggregates


class RowError(ValueError):
    """A row that does not fit the schema; ``field`` says where (``rows[3].shift``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class OnnxModel:
    """One exported model: ``predict`` takes rows as ``{feature: value}`` mappings."""

    def __init__(self, model: bytes, manifest: Manifest) -> None:
        options = ort.SessionOptions()
        # A device or a server worker runs one model on one core; more threads only contend.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(
            model, sess_options=options, providers=["CPUExecutionProvider"]
        )
        self.manifest = manifest
        self.classes = list(manifest.classes)
        # Opt-in telemetry: counts of what was predicted (vigia.onnx.telemetry), never rows.
        self.aggregates: Aggregates | None = None

    @classmethod
    def load(cls, folder: str | Path) -> OnnxModel:
        folder = Path(folder)
        manifest = Manifest.read(folder / MANIFEST_FILE)
        return cls((folder / MODEL_FILE).read_bytes(), manifest)

    def predict_proba_feed(self, feed: Mapping[str, np.ndarray]) -> np.ndarray:
        (proba,) = self.session.run([PROBABILITIES_OUTPUT], dict(feed))
        return np.asarray(proba, dtype=np.float64)

    def predict_proba(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        columns = check_rows(self.manifest.features, rows)
        proba = self.predict_proba_feed(columns_feed(self.manifest, columns))
        if self.aggregates is not None:
            self.aggregates.observe(columns, proba)
        return proba

    def feed(self, rows: Sequence[Mapping[str, Any]]) -> dict[str, np.ndarray]:
        columns = check_rows(self.manifest.features, rows)
        return columns_feed(self.manifest, columns)

    def predict(self, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        proba = self.predict_proba(rows)
        return [
            {
                "class": self.classes[int(p.argmax())],
                "probabilities": dict(zip(self.classes, p.tolist(), strict=True)),
            }
            for p in proba
        ]


def columns_feed(manifest: Manifest, columns: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The graph's inputs from checked columns (numeric float, categorical str)."""
    names = [f["name"] for f in manifest.features]
    if manifest.input_mode == "matrix":
        matrix = np.column_stack([np.asarray(columns[n], dtype=np.float32) for n in names])
        return {MATRIX_INPUT: matrix}
    feed = {}
    for spec in manifest.features:
        values = np.asarray(columns[spec["name"]])
        if spec["kind"] == "numeric":
            feed[spec["name"]] = values.astype(np.float32).reshape(-1, 1)
        else:
            text = [v if isinstance(v, str) else "" for v in values.tolist()]
            feed[spec["name"]] = np.array(text, dtype=object).reshape(-1, 1)
    return feed


def check_rows(
    features: Sequence[Mapping[str, Any]], rows: Sequence[Mapping[str, Any]]
) -> dict[str, np.ndarray]:
    """Columns from rows, each value checked against its feature's kind and categories."""
    if not rows:
        raise RowError("rows", "expected at least one row")
    columns: dict[str, list[Any]] = {f["name"]: [] for f in features}
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise RowError(f"rows[{i}]", "expected an object of feature values")
        for spec in features:
            name = spec["name"]
            if name not in row:
                raise RowError(f"rows[{i}].{name}", "missing")
            columns[name].append(_check_value(spec, row[name], f"rows[{i}].{name}"))
    return {
        spec["name"]: np.asarray(
            columns[spec["name"]], dtype=np.float64 if spec["kind"] == "numeric" else object
        )
        for spec in features
    }


def _check_value(spec: Mapping[str, Any], value: Any, where: str) -> Any:
    missing = value is None or (isinstance(value, float) and math.isnan(value))
    if missing:
        if not spec.get("nullable"):
            raise RowError(where, "must not be null")
        return math.nan if spec["kind"] == "numeric" else None
    if spec["kind"] == "numeric":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise RowError(where, f"expected a number, got {type(value).__name__}")
        if not math.isfinite(value):
            raise RowError(where, "must be a finite number")
        return float(value)
    categories = spec.get("categories") or []
    if not isinstance(value, str):
        raise RowError(where, f"expected a string, got {type(value).__name__}")
    if value not in categories:
        raise RowError(
            where, f"unknown category {value!r}; expected one of {', '.join(categories)}"
        )
    return value


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m vigia.onnx.runner")
    parser.add_argument("folder", help="model.onnx + model.json")
    parser.add_argument("--telemetry", metavar="URL", default=None,
                        help="opt-in: POST the predictions' aggregates (never a row) here")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    model = OnnxModel.load(args.folder)
    if args.telemetry:
        from vigia.onnx.telemetry import Aggregates

        model.aggregates = Aggregates(model.manifest)
    rows = [json.loads(line) for line in sys.stdin if line.strip()]
    try:
        predictions = model.predict(rows)
    except RowError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    for prediction in predictions:
        sys.stdout.write(json.dumps({"version": model.manifest.version, **prediction}) + "\n")
    if model.aggregates is not None:
        from vigia.onnx.telemetry import send_report

        send_report(args.telemetry, model.aggregates.take_report())
    return 0


if __name__ == "__main__":
    sys.exit(main())
