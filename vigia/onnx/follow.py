"""A device that follows the promoted version: ``release.json`` checked on a schedule.

``Follower.check`` reads the release; when it names another version it downloads the
graph and its manifest, verifies both sha256 digests and the parity recorded at export,
loads the graph and predicts one probe row, and only then switches: the files land in
``STORE/<version>/``, the pointer ``STORE/current.json`` is replaced atomically
(os.replace), and the model in memory is swapped in one assignment. The previous version
stays on disk (older ones are removed) and is used when the current one cannot be loaded.
A release that fails any check is refused and the device keeps serving what it had.

numpy, onnxruntime and the standard library only, like the runner.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vigia.onnx.manifest import MANIFEST_FILE, MODEL_FILE, Manifest
from vigia.onnx.release import Release, sha256
from vigia.onnx.runner import OnnxModel

POINTER_FILE = "current.json"
MAX_DOWNLOAD_BYTES = 256 * 1024 * 1024
FETCH_TIMEOUT_S = 30.0


class ReleaseRefusedError(ValueError):
    """A release the device must not switch to (digest, parity, or a graph that fails)."""


@dataclass(frozen=True)
class Switch:
    version: str
    previous: str | None
    at: float  # time.time() when the new version started serving


def fetch(url: str, limit: int = MAX_DOWNLOAD_BYTES) -> bytes:
    request = urllib.request.Request(url, headers={"Cache-Control": "no-cache"})
    with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT_S) as answer:
        data: bytes = answer.read(limit + 1)
    if len(data) > limit:
        raise ReleaseRefusedError(f"{url}: larger than {limit} bytes")
    return data


def probe_row(manifest: Manifest) -> dict[str, Any]:
    """One row inside the training ranges: the graph must predict it before switching."""
    row: dict[str, Any] = {}
    for spec in manifest.features:
        if spec["kind"] == "numeric":
            low, high = spec.get("minimum"), spec.get("maximum")
            row[spec["name"]] = (low + high) / 2 if low is not None and high is not None else 0.0
        else:
            row[spec["name"]] = (spec.get("categories") or [None])[0]
    return row


def verified(release: Release, model: bytes, manifest_bytes: bytes) -> OnnxModel:
    """The release's graph, loaded, once every check passed; else ReleaseRefusedError."""
    if sha256(model) != release.model_digest:
        raise ReleaseRefusedError(f"{release.model}: digest {sha256(model)} is not "
                                  f"{release.model_digest}")
    if sha256(manifest_bytes) != release.manifest_digest:
        raise ReleaseRefusedError(f"{release.manifest}: digest does not match the release")
    manifest = Manifest.from_dict(json.loads(manifest_bytes))
    if manifest.version != release.version:
        raise ReleaseRefusedError(f"{release.manifest}: version {manifest.version!r}, "
                                  f"the release says {release.version!r}")
    if not (release.parity_passed and manifest.parity and manifest.parity.passed):
        raise ReleaseRefusedError(f"version {release.version}: parity did not pass at export")
    loaded = OnnxModel(model, manifest)
    proba = loaded.predict_proba([probe_row(manifest)])
    if abs(float(proba.sum()) - 1.0) > 1e-3:
        raise ReleaseRefusedError(f"version {release.version}: the graph's probabilities "
                                  f"add up to {float(proba.sum()):.4f}")
    return loaded


class Follower:
    """The model a device serves, kept at the release's version."""

    def __init__(self, release_url: str, store: Path,
                 on_switch: Callable[[OnnxModel], None] | None = None) -> None:
        self.release_url = release_url
        self.store = store
        self.on_switch = on_switch
        self.model: OnnxModel | None = None
        self.switches: list[Switch] = []
        self.last_error: str | None = None
        self._lock = threading.Lock()
        store.mkdir(parents=True, exist_ok=True)
        self._load_stored()

    @property
    def version(self) -> str | None:
        model = self.model
        return None if model is None else model.manifest.version

    def _pointer(self) -> dict[str, Any]:
        path = self.store / POINTER_FILE
        return json.loads(path.read_text()) if path.is_file() else {}

    def _load_stored(self) -> None:
        """At start: the current version from disk, or the previous one if it fails."""
        pointer = self._pointer()
        for version in (pointer.get("current"), pointer.get("previous")):
            if version:
                try:
                    self.model = OnnxModel.load(self.store / version)
                    return
                except Exception as exc:  # a damaged copy: fall back to the previous one
                    self.last_error = f"stored version {version}: {exc}"

    def check(self) -> bool:
        """Read the release and switch if it names another version; True if switched."""
        with self._lock:
            try:
                release = Release.from_dict(json.loads(fetch(self.release_url)))
                if release.version == self.version:
                    self.last_error = None
                    return False
                model = fetch(urllib.parse.urljoin(self.release_url, release.model))
                manifest = fetch(urllib.parse.urljoin(self.release_url, release.manifest))
                loaded = verified(release, model, manifest)
            except Exception as exc:  # refused or unreachable: keep serving what we have
                self.last_error = str(exc)
                return False
            self._switch(loaded, model, manifest)
            self.last_error = None
            return True

    def _switch(self, loaded: OnnxModel, model: bytes, manifest: bytes) -> None:
        version = loaded.manifest.version
        folder = self.store / version
        staging = self.store / f".{version}.partial"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        (staging / MODEL_FILE).write_bytes(model)
        (staging / MANIFEST_FILE).write_bytes(manifest)
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(staging, folder)
        previous = self.version
        pointer = self.store / f".{POINTER_FILE}.partial"
        pointer.write_text(json.dumps({"current": version, "previous": previous}))
        os.replace(pointer, self.store / POINTER_FILE)
        if self.on_switch is not None:
            self.on_switch(loaded)
        self.model = loaded  # one assignment: a prediction sees the old or the new model
        self.switches.append(Switch(version, previous, time.time()))
        self._prune(keep={version, previous})

    def _prune(self, keep: set[str | None]) -> None:
        for entry in self.store.iterdir():
            if entry.is_dir() and not entry.name.startswith(".") and entry.name not in keep:
                shutil.rmtree(entry, ignore_errors=True)

    def run(self, interval_s: float, stop: threading.Event) -> None:
        """Check every ``interval_s`` until ``stop`` is set."""
        while not stop.is_set():
            self.check()
            stop.wait(interval_s)
