"""The manifest beside a ``model.onnx``: what a runner needs besides the graph.

Plain JSON (no scikit-learn, no pandas): the model's name and version, its classes, the
feature schema as the bundle has it, how the graph takes its inputs, and the parity
measured when it was exported.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

MODEL_FILE = "model.onnx"
MANIFEST_FILE = "model.json"
MANIFEST_FORMAT = 1
# One [N, 1] input per feature (a Pipeline starting with a ColumnTransformer), or one
# float [N, n_features] input called MATRIX_INPUT (an estimator on numeric columns).
InputMode = Literal["columns", "matrix"]
MATRIX_INPUT = "features"
LABEL_OUTPUT = "label"
PROBABILITIES_OUTPUT = "probabilities"


@dataclass(frozen=True)
class ParitySummary:
    rows: int
    label_agreement: float
    max_probability_difference: float
    threshold: float
    passed: bool


@dataclass(frozen=True)
class Manifest:
    name: str
    version: str
    classes: list[str]
    features: list[dict[str, Any]]
    input_mode: InputMode
    parity: ParitySummary | None = None
    opset: dict[str, int] = field(default_factory=dict)
    # The training bins the server counts on, per feature: numeric {"edges", "minimum",
    # "maximum"} (bin i holds values with i edges at or below them), categorical
    # {"categories"}. A device counts its inputs on them for telemetry (vigia.telemetry).
    bins: dict[str, dict[str, Any]] = field(default_factory=dict)
    format: int = MANIFEST_FORMAT

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        if data.get("format") != MANIFEST_FORMAT:
            raise ValueError(f"model manifest: unsupported format {data.get('format')!r}")
        parity = data.get("parity")
        return cls(
            name=str(data["name"]),
            version=str(data["version"]),
            classes=[str(c) for c in data["classes"]],
            features=list(data["features"]),
            input_mode=data["input_mode"],
            parity=ParitySummary(**parity) if parity else None,
            opset={str(k): int(v) for k, v in data.get("opset", {}).items()},
            bins=dict(data.get("bins") or {}),
        )

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n")

    @classmethod
    def read(cls, path: Path) -> Manifest:
        return cls.from_dict(json.loads(path.read_text()))
