"""``release.json``: what devices and pages check to follow the promoted version.

Served beside ``model.onnx`` and ``model.json`` (by the model server under /app/, or written
into an exported folder): the model's name and version, the sha256 of ``model.onnx`` and of
``model.json``, the parity measured at export, and where telemetry may be sent (None: not
accepted). Standard library only: the device runner reads it.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
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


VERSIONS_DIR = "versions"


def publish_version(site: Path, model: bytes, manifest: Manifest) -> Path:
    """A version's files under ``site/versions/<version>/``; devices do not see it yet."""
    folder = site / VERSIONS_DIR / manifest.version
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MODEL_FILE).write_bytes(model)
    (folder / MANIFEST_FILE).write_bytes(manifest_bytes(manifest))
    return folder


def point_release(site: Path, version: str, telemetry: str | None = None) -> Release:
    """Make ``version`` (published before) the one devices follow: ``site/release.json``
    replaced atomically. Promoting and rolling back are both this call."""
    folder = site / VERSIONS_DIR / version
    model = (folder / MODEL_FILE).read_bytes()
    manifest = Manifest.read(folder / MANIFEST_FILE)
    prefix = f"{VERSIONS_DIR}/{version}/"
    release = Release(
        name=manifest.name, version=manifest.version, model=prefix + MODEL_FILE,
        model_digest=sha256(model), manifest=prefix + MANIFEST_FILE,
        manifest_digest=sha256((folder / MANIFEST_FILE).read_bytes()),
        parity_passed=bool(manifest.parity and manifest.parity.passed), telemetry=telemetry,
    )
    partial = site / f".{RELEASE_FILE}.partial"
    partial.write_bytes(release.to_json())
    os.replace(partial, site / RELEASE_FILE)
    return release
