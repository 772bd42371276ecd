"""The browser page under /app/: the model runs in the visitor's browser (onnxruntime-web).

The server hands out static files only: the page, onnxruntime-web's wasm build and the
served model's ``model.onnx`` and ``model.json``. With runtime onnx/auto the ONNX form
compiled at load is reused; otherwise the bundle is compiled on the first request for
it. Predictions made by the page never reach the server.
"""

from __future__ import annotations

import threading
from typing import Any

import anyio.to_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from vigia.browser_page import CONTENT_TYPES, WebAssetsMissingError, check_assets, static_file
from vigia.onnx.manifest import MANIFEST_FILE, MODEL_FILE
from vigia.onnx.release import RELEASE_FILE, manifest_bytes, release_of

from .compiled import compiled_of

PAGE_PATH = "/app"
# The page is the same for every model; the model files change with the bundle.
_CACHE = {"page": "no-cache", "model": "no-store"}


class CompiledCache:
    """The served bundle's ONNX form, compiled once per runtime."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: int | None = None
        self._compiled: Any = None

    def get(self, runtime: Any) -> Any:
        with self._lock:
            if self._key != id(runtime):
                from vigia.onnx.export import compile_bundle

                self._compiled = compiled_of(runtime.bundle) or compile_bundle(runtime.bundle)
                self._key = id(runtime)
            return self._compiled


def build_page_app(state: Any, telemetry: str | None = None) -> Starlette:
    """Routes of the page; ``state.runtime`` is the loaded ModelRuntime (or None);
    ``telemetry`` the path reports may be posted to, named in release.json (None: off)."""
    cache = CompiledCache()

    async def model_file(name: str) -> Response:
        runtime = await state.loaded_runtime()
        if runtime is None:
            return JSONResponse({"error": "the model is still loading"}, status_code=503)
        compiled = await anyio.to_thread.run_sync(cache.get, runtime)
        headers = {"Cache-Control": _CACHE["model"]}
        if name == MODEL_FILE:
            return Response(compiled.model, media_type=CONTENT_TYPES[".onnx"], headers=headers)
        if name == RELEASE_FILE:
            release = release_of(compiled.model, compiled.manifest, telemetry)
            return Response(release.to_json(), media_type=CONTENT_TYPES[".json"], headers=headers)
        manifest = manifest_bytes(compiled.manifest)
        return Response(manifest, media_type=CONTENT_TYPES[".json"], headers=headers)

    async def asset(request: Request) -> Response:
        name = request.path_params.get("name") or "index.html"
        if name in (MODEL_FILE, MANIFEST_FILE, RELEASE_FILE):
            return await model_file(name)
        path = static_file(name)
        if path is None:
            return JSONResponse({"error": f"no file {name!r} in the page"}, status_code=404)
        try:
            check_assets()
        except WebAssetsMissingError as exc:
            return JSONResponse({"error": str(exc)}, status_code=500)
        media = CONTENT_TYPES.get(path.suffix, "application/octet-stream")
        return FileResponse(path, media_type=media, headers={"Cache-Control": _CACHE["page"]})

    return Starlette(
        routes=[
            Route("/", asset, methods=["GET"]),
            Route("/{name:path}", asset, methods=["GET"]),
        ]
    )
