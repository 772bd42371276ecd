"""The BentoML service: ``bentoml serve vigia_serving.service:VigiaModel``.

Configured from VIGIA_* environment variables (vigia.settings.ServingSettings). The
model loads in a background thread so /healthz answers at once while /readyz stays
503 until the bundle is verified, loaded and the store is reachable. A bundle or a
database that cannot be reached is retried with backoff; /readyz is 503 meanwhile, and
again whenever the prediction log cannot be written.
"""

from __future__ import annotations

import gc
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

import anyio.to_thread
import bentoml
from pydantic import ValidationError

from vigia.bundle import BundleError, DigestMismatchError, DownloadLimits, load_bundle
from vigia.settings import ServingSettings, env_name

from .app import ServerState, build_app
from .browser_page import PAGE_PATH, build_page_app
from .logmetrics import dropped_rows_counter
from .monitoring import Monitor
from .requestmetrics import RequestMetrics
from .runtime import ModelRuntime
from .store import PredictionStore

T = TypeVar("T")

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
        # The routes shed load themselves (503 + Retry-After) at max_concurrency; BentoML's
        # own limit (429) is a backstop above it for every other path.
        "traffic": {"timeout": 60, "max_concurrency": 2 * settings.max_concurrency + 16},
    }


def public_reason(exc: BaseException) -> str:
    """Why loading failed, for /readyz and error bodies: no URIs, hosts or content."""
    if isinstance(exc, DigestMismatchError):
        return "the model bundle does not match its expected digest"
    if isinstance(exc, BundleError):
        return "the model bundle could not be fetched or read"
    return f"the model could not be loaded ({type(exc).__name__})"


def retrying(
    attempt: Callable[[], T], state: ServerState, what: Callable[[BaseException], str],
    max_pause_s: float,
) -> T:
    """``attempt()`` until it succeeds, pausing 1, 2, 4 ... ``max_pause_s`` seconds; the
    reason it fails meanwhile is published in ``state.error`` (readiness stays 503)."""
    pause = 1.0
    while True:
        try:
            result = attempt()
        except Exception as exc:
            log.error("%s; retrying in %.0f s (%s: %s)", what(exc), pause, type(exc).__name__,
                      str(exc).splitlines()[0][:300] if str(exc) else "")
            state.error = f"{what(exc)}; retrying"
            time.sleep(pause)
            pause = min(pause * 2, max_pause_s)
            continue
        state.error = None
        return result


def open_store(settings: ServingSettings, state: ServerState) -> PredictionStore:
    """The store, retried until the database answers (readiness stays 503 meanwhile)."""
    retention = settings.log_retention_days
    on_drop = dropped_rows_counter()

    def attempt() -> PredictionStore:
        store = PredictionStore(
            settings.store_url,
            flush_interval_s=settings.flush_interval_s,
            max_buffered=settings.max_buffered_predictions,
            retention=timedelta(days=retention) if retention > 0 else None,
            spill_dir=Path(settings.home) / "unflushed",
            on_drop=on_drop,
        )
        try:
            store.start()
        except Exception:
            store.engine.dispose()
            raise
        return store

    return retrying(
        attempt, state, lambda _: "the prediction store is unavailable", settings.load_retry_max_s
    )


def load_runtime(settings: ServingSettings, state: ServerState, worker: int) -> None:
    """Verify and load the bundle, open the store, then publish the runtime (thread body)."""
    try:
        home = Path(settings.home) / f"worker-{worker}"
        limits = DownloadLimits(settings.bundle_max_bytes, settings.bundle_timeout_s)
        bundle = retrying(
            lambda: load_bundle(settings.model_uri, settings.model_digest, home=home,
                                limits=limits,
                                allow_sidecar_digest=settings.allow_sidecar_digest),
            state, public_reason, settings.load_retry_max_s,
        )
        store = open_store(settings, state)
        meta = bundle.metadata
        monitor = None
        if settings.monitoring:
            monitor = Monitor(
                namespace=settings.namespace,
                model=settings.model_name or meta.name,
                version=settings.model_version or meta.version,
                track=settings.track,
                schema=meta.schema,
                profile=meta.profile,
                classes=meta.classes,
            )
        runtime = ModelRuntime(bundle, settings, store, monitor)
        # The model and everything loaded so far live as long as the process: moving them
        # out of the collector's generations keeps full collections short.
        gc.collect()
        gc.freeze()
        state.runtime = runtime
        log.info("model %s version %s ready", meta.name, meta.version)
    except Exception as exc:
        log.exception("loading the model failed")
        state.error = public_reason(exc)


# The event loop thread and the model thread share the GIL. Under overload the loop is
# never idle (it refuses request after request), and the model thread, which needs the
# GIL between trees, waited up to the default 5 ms switch interval for each of those
# handoffs: accepted requests starved. A shorter interval bounds that wait.
GIL_SWITCH_INTERVAL_S = 0.0005
sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)

SETTINGS = load_settings()
STATE = ServerState(
    max_rows=SETTINGS.max_request_rows,
    max_explain_rows=SETTINGS.max_explain_rows,
    max_body_bytes=SETTINGS.max_body_bytes,
    max_concurrency=SETTINGS.max_concurrency,
    max_explain_concurrency=SETTINGS.max_explain_concurrency,
    inline_parse_bytes=SETTINGS.inline_parse_bytes,
    retry_after_s=SETTINGS.retry_after_s,
    unknown_id_wait_s=SETTINGS.feedback_wait,
)
app = build_app(STATE)
if SETTINGS.browser_page:  # opt-in: the page hands out the model itself
    app.mount(PAGE_PATH, build_page_app(STATE))


def serving() -> tuple[str, str]:
    """The model's name and version for the request metrics ("" until it is loaded)."""
    runtime = STATE.runtime
    if runtime is None:
        return SETTINGS.model_name or "", SETTINGS.model_version or ""
    return runtime.name, runtime.version


@bentoml.service(**build_service_config(SETTINGS))
@bentoml.asgi_app(
    RequestMetrics(app, namespace=SETTINGS.namespace, track=SETTINGS.track, serving=serving),
    path="/")
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
        """Loaded, and the prediction log can be written."""
        runtime = STATE.runtime
        return runtime is not None and runtime.store.healthy

    @bentoml.on_shutdown
    async def close(self) -> None:
        """Finish queued predictions, then write the rest of the prediction log."""
        runtime = STATE.runtime
        if runtime is None:
            return
        batcher = runtime.batcher
        await batcher.close()
        runtime.close()
        await anyio.to_thread.run_sync(runtime.store.close, SETTINGS.shutdown_flush_s)
        mean = batcher.items / batcher.batches if batcher.batches else 0.0
        log.info(
            "prediction log flushed; %d requests in %d micro-batches (%.1f per batch)",
            batcher.items, batcher.batches, mean,
        )
