"""The browser page: the model runs in the user's browser with onnxruntime-web.

``static/`` holds the page (index.html, app.js, app.css); ``static/ort/`` holds the
onnxruntime-web files the page loads (the wasm build), copied there from the npm
package (tools/onnxruntime-web) by scripts/setup, so they ship with the Python package
and no CDN is used. The page reads ``release.json`` from its own folder, fetches the
``model.onnx`` and ``model.json`` it names (checking their sha256) and never sends an input;
when the server accepts telemetry and the visitor opts in, it posts counts only
(``telemetry.js``, vigia/telemetry.py).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Protocol

from vigia.onnx.manifest import MANIFEST_FILE, MODEL_FILE, Manifest
from vigia.onnx.release import RELEASE_FILE, release_of

STATIC = Path(__file__).parent / "static"
ORT_DIR = STATIC / "ort"
ORT_FILES = ("ort.wasm.min.js", "ort-wasm-simd-threaded.wasm", "ort-wasm-simd-threaded.mjs")
PAGE_FILES = ("index.html", "app.js", "telemetry.js", "app.css")
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".wasm": "application/wasm",
    ".json": "application/json",
    ".onnx": "application/octet-stream",
}


class WebAssetsMissingError(FileNotFoundError):
    """onnxruntime-web's files are not in the package (scripts/setup copies them)."""


class CompiledModel(Protocol):
    @property
    def model(self) -> bytes: ...

    @property
    def manifest(self) -> Manifest: ...


def check_assets() -> None:
    missing = [f for f in ORT_FILES if not (ORT_DIR / f).is_file()]
    if missing:
        raise WebAssetsMissingError(
            f"{ORT_DIR / missing[0]}: onnxruntime-web is not installed; run scripts/setup "
            "(npm ci --prefix tools/onnxruntime-web, then copies the wasm build into "
            "vigia/browser_page/static/ort)"
        )


def static_file(relative: str) -> Path | None:
    """A page or runtime file by its path under the page's folder; None if not one."""
    if relative in PAGE_FILES:
        return STATIC / relative
    if relative.startswith("ort/") and relative.removeprefix("ort/") in ORT_FILES:
        return ORT_DIR / relative.removeprefix("ort/")
    return None


def export_web(compiled: CompiledModel, folder: Path) -> Path:
    """A self-contained folder: the page, onnxruntime-web and the model. Host it anywhere."""
    check_assets()
    (folder / "ort").mkdir(parents=True, exist_ok=True)
    for name in PAGE_FILES:
        shutil.copyfile(STATIC / name, folder / name)
    for name in ORT_FILES:
        shutil.copyfile(ORT_DIR / name, folder / "ort" / name)
    (folder / MODEL_FILE).write_bytes(compiled.model)
    compiled.manifest.write(folder / MANIFEST_FILE)
    (folder / RELEASE_FILE).write_bytes(release_of(compiled.model, compiled.manifest).to_json())
    return folder
