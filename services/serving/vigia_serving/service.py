"""The BentoML service: ``bentoml serve vigia_serving.service:VigiaModel``.

Configured from VIGIA_* environment variables (vigia.settings.ServingSettings). The
model loads in a background thread so /healthz answers at once while /readyz stays
503 until the bundle is verified, loaded and the store is reachable.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

import anyio.to_thread
import bentoml
from pydantic import ValidationError

from vigia.bundle import load_bundle
from vigia.settings import ServingSettings, env_name

from .app import ServerState, build_app
from .monitoring import Monitor
from .runtime import ModelRuntime
from .store import PredictionStore

# A child of BentoML's server logger, so it shares the handlers and format BentoML sets up.
log = logging.getLogger("bentoml.serve.vigia")


def load_settings() -> ServingSettings:
    try:
        return ServingSettings()  # type: ignore[call-arg]  # fields come from the environment
    except ValidationError as exc:
        problems = "; ".join(
            f"{env_name(str(e['loc'][0]))}: {e['msg']}" for e in exc.errors() if e["loc"]
        )
        raise SystemExit(f"vigia serving: bad settings: {problems}") from None


def build_service_config(settings: ServingSettings) -> dict[str, object]:
    """BentoML service options: no per-request tracing or access log unless asked for."""
    return {
        "name": "vigia",
        "workers": settings.workers,
        "logging": {"access": {"enabled": settings.access_log}},
        # OpenTelemetry spans cost more than a batched prediction; exclude all URLs.
        "tracing": {} if settings.tracing else {"excluded_urls": [".*"]},
        "traffic": {"timeout": 60},
    }


def open_store(settings: ServingSettings, state: ServerState) -> PredictionStore:
    """The store, retried until the database answers (readiness stays 503 meanwhile)."""
    delay = 1.0
    while True:
        store = PredictionStore(settings.store_url, flush_interval_s=settings.flush_interval_s)
        try:
            store.start()
            state.error = None
            return store
        except Exception as exc:
            store.engine.dispose()
            log.error("prediction store unavailable, retrying in %.0f s: %s", delay, exc)
            state.error = f"the prediction store is unavailable: {exc}"
            time.sleep(delay)
            delay = min(delay * 2, 30.0)


def load_runtime(settings: ServingSettings, state: ServerState, worker: int) -> None:
    """Verify and load the bundle, open the store, then publish the runtime (thread body)."""
    try:
        home = Path(settings.home) / f"worker-{worker}"
        bundle = load_bundle(settings.model_uri, settings.model_digest, home=home,
                             allow_sidecar_digest=settings.allow_sidecar_digest)
        store = open_store(settings, state)
        meta = bundle.metadata
        monitor = None
        if settings.monitoring:
            monitor = Monitor(
                model=settings.model_name or meta.name,
                version=meta.version,
                track=settings.track,
                schema=meta.schema,
                profile=meta.profile,
                classes=meta.classes,
            )
        state.runtime = ModelRuntime(bundle, settings, store, monitor)
        log.info("model %s version %s ready", meta.name, meta.version)
    except Exception as exc:
        log.exception("loading the model failed")
        state.error = f"the model could not be loaded: {exc}"


SETTINGS = load_settings()
STATE = ServerState(
    max_rows=SETTINGS.max_batch_rows,
    max_explain_rows=SETTINGS.max_explain_rows,
    unknown_id_grace_s=2 * SETTINGS.flush_interval_s if SETTINGS.workers > 1 else 0.0,
)
app = build_app(STATE)


@bentoml.service(**build_service_config(SETTINGS))
@bentoml.asgi_app(app, path="/")
class VigiaModel:
    """Serves one Vigía model bundle: /predict, /feedback, /explain, /docs."""

    def __init__(self) -> None:
        from bentoml._internal.context import server_context

        worker = server_context.worker_index or os.getpid()
        self._loader = threading.Thread(
            target=load_runtime, args=(SETTINGS, STATE, worker), name="vigia-loader", daemon=True
        )
        self._loader.start()

    def __is_ready__(self) -> bool:
        return STATE.runtime is not None

    @bentoml.on_shutdown
    async def close(self) -> None:
        """Finish queued predictions, then write the rest of the prediction log."""
        runtime = STATE.runtime
        if runtime is None:
            return
        batcher = runtime.batcher
        await batcher.close()
        await anyio.to_thread.run_sync(runtime.store.close)
        mean = batcher.items / batcher.batches if batcher.batches else 0.0
        log.info(
            "prediction log flushed; %d requests in %d micro-batches (%.1f per batch)",
            batcher.items, batcher.batches, mean,
        )
