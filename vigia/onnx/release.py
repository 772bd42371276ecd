"""``release.json``: what devices and pages check to follow the promoted version.

Served beside ``model.onnx`` and ``model.json`` (by the model server under /app/, or written
into an exported folder): the model's name and version, the sha256 of ``model.onnx`` and of
``model.json``, the parity measured at export, and where telemetry may be sent (None: not
accepted). Standard library only: the device runner reads it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

from vigia.onnx.manifest import MANIFEST_FILE, MODEL_FILE, Manifest

RELEASE_FILE = "release.json"
RELEASE_FORMAT = 1


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Release:
    name: str
    version: str
    model: str  # file name of the graph, relative to release.json
    model_digest: str
    manifest: str
    manifest_digest: str
    parity_passed: bool
    telemetry: str | None = None
    format: int = RELEASE_FORMAT

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), indent=2).encode() + b"\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Release:
        if data.get("format") != RELEASE_FORMAT:
            raise ValueError(f"release: unsupported format {data.get('format')!r}")
        return cls(
            name=str(data["name"]), version=str(data["version"]), model=str(data["model"]),
            model_digest=str(data["model_digest"]), manifest=str(data["manifest"]),
            manifest_digest=str(data["manifest_digest"]),
            parity_passed=bool(data["parity_passed"]), telemetry=data.get("telemetry"),
        )


def manifest_bytes(manifest: Manifest) -> bytes:
    """``model.json`` exactly as written and served (the digest is over these bytes)."""
    return (json.dumps(manifest.to_dict(), indent=2, allow_nan=False) + "\n").encode()


def release_of(model: bytes, manifest: Manifest, telemetry: str | None = None) -> Release:
    return Release(
        name=manifest.name,
        version=manifest.version,
        model=MODEL_FILE,
        model_digest=sha256(model),
        manifest=MANIFEST_FILE,
        manifest_digest=sha256(manifest_bytes(manifest)),
        parity_passed=bool(manifest.parity and manifest.parity.passed),
        telemetry=telemetry,
    )
