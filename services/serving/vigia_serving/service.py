"""The BentoML service: ``bentoml serve vigia_serving.service:VigiaModel``.

Configured from VIGIA_* environment variables (vigia.settings.ServingSettings). The
model loads in a background thread so /healthz answers at once while /readyz stays
503 until the bundle is verified and loaded. A bundle that cannot be reached is retried
with backoff; /readyz is 503 meanwhile. The prediction log's database is not part of
readiness: while it cannot be reached, predictions are answered and buffered, feedback
answers 503, and vigia_prediction_log_up is 0. The first worker starts the probes' own
process (vigia_serving.probes), which gives the kubelet the worker's /healthz and /readyz
answers without waiting on prediction work.
"""

from __future__ import annotations

import gc
import logging
import os
import socket
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
from vigia.telemetry import TELEMETRY_PATH

from .app import ServerState, build_app
from .bounds import derive_bounds, memory_limit
from .browser_page import PAGE_PATH, build_page_app
from .logmetrics import dropped_rows_counter, health_gauges
from .monitoring import Monitor
from .probes import keep_running as keep_probes_running
from .requestmetrics import RequestMetrics
from .runtime import ModelRuntime
from .store import PredictionStore
from .telemetry import build_telemetry_route, start_at_zero

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


def build_service_config(settings: ServingSettings, max_concurrency: int) -> dict[str, object]:
    """BentoML service options: no per-request tracing or access log unless asked for."""
    return {
        "name": "vigia",
        "workers": settings.workers,
        "logging": {"access": {"enabled": settings.access_log}},
        # OpenTelemetry spans cost more than a batched prediction; exclude all URLs.
        "tracing": {} if settings.tracing else {"excluded_urls": [".*"]},
        # The routes shed load themselves (503 + Retry-After) at max_concurrency; BentoML's
        # own limit (429) is a backstop above it for every other path.
        "traffic": {"timeout": 60, "max_concurrency": 2 * max_concurrency + 16},
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


def open_store(
    settings: ServingSettings, state: ServerState, model: str, version: str
) -> PredictionStore:
    """The store of ``model``'s rows in this namespace. A database that cannot be reached
    does not hold it up (rows are buffered, the health metric says so); a store that
    cannot even be set up (a bad URL, no driver, tables refused) is retried meanwhile
    readiness stays 503."""
    retention = settings.log_retention_days
    on_drop = dropped_rows_counter()
    on_health = health_gauges((settings.namespace, model, version, settings.track))

    def attempt() -> PredictionStore:
        store = PredictionStore(
            settings.store_url,
            flush_interval_s=settings.flush_interval_s,
            max_buffered=settings.max_buffered_predictions,
            retention=timedelta(days=retention) if retention > 0 else None,
            spill_dir=Path(settings.home) / "unflushed",
            on_drop=on_drop,
            namespace=settings.namespace,
            model=model,
            on_health=on_health,
            feedback_reads_features=bool(settings.segments),
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
        meta = bundle.metadata
        store = open_store(settings, state, settings.model_name or meta.name, meta.version)
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
                calibration=meta.calibration,
                segments=[n for n in settings.segments.split(",") if n],
            )
        runtime = ModelRuntime(bundle, settings, store, monitor)
        if monitor is not None and settings.telemetry:
            start_at_zero(monitor.families, runtime)
        # The model and everything loaded so far live as long as the process: moving them
        # out of the collector's generations keeps full collections short.
        gc.collect()
        gc.freeze()
        state.runtime = runtime
        log.info("model %s version %s ready; %s", meta.name, meta.version, BOUNDS.describe())
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
BOUNDS = derive_bounds(memory_limit(SETTINGS.memory_limit_bytes), SETTINGS.workers,
                       SETTINGS.max_body_bytes, SETTINGS.max_concurrency)
STATE = ServerState(
    max_rows=SETTINGS.max_request_rows,
    max_explain_rows=SETTINGS.max_explain_rows,
    max_body_bytes=BOUNDS.max_body_bytes,
    max_concurrency=BOUNDS.max_concurrency,
    body_budget=BOUNDS.body_budget,
    max_explain_concurrency=SETTINGS.max_explain_concurrency,
    inline_parse_bytes=SETTINGS.inline_parse_bytes,
    retry_after_s=SETTINGS.retry_after_s,
    unknown_id_wait_s=SETTINGS.feedback_wait,
)
app = build_app(STATE)
if SETTINGS.browser_page:  # opt-in: the page hands out the model itself
    app.mount(PAGE_PATH, build_page_app(STATE, TELEMETRY_PATH if SETTINGS.telemetry else None))
if SETTINGS.telemetry:  # opt-in: devices' aggregates counted with the server's own
    app.add_route(TELEMETRY_PATH, build_telemetry_route(
        STATE, SETTINGS.telemetry_reports_per_minute), methods=["POST"])


def listening_address() -> tuple[str, int] | None:
    """Host and port of the socket BentoML's arbiter handed this worker (its --fd)."""
    argv = sys.argv
    if "--fd" not in argv[:-1]:
        return None
    with socket.socket(fileno=os.dup(int(argv[argv.index("--fd") + 1]))) as listening:
        host, port = listening.getsockname()[:2]
    return str(host), int(port)


def probe_process(worker: int | None) -> threading.Thread | None:
    """The probes' own process (vigia_serving.probes), kept running by the first worker."""
    address = listening_address()
    if SETTINGS.probe_port == 0 or worker not in (None, 1) or address is None:
        return None
    return keep_probes_running(*address, SETTINGS.probe_port)


def serving() -> tuple[str, str]:
    """The model's name and version for the request metrics ("" until it is loaded)."""
    runtime = STATE.runtime
    if runtime is None:
        return SETTINGS.model_name or "", SETTINGS.model_version or ""
    return runtime.name, runtime.version


@bentoml.service(**build_service_config(SETTINGS, BOUNDS.max_concurrency))
@bentoml.asgi_app(
    RequestMetrics(app, namespace=SETTINGS.namespace, track=SETTINGS.track, serving=serving),
    path="/")
class VigiaModel:
    """Serves one Vigía model bundle: /predict, /feedback, /explain, /docs."""

    def __init__(self) -> None:
        from bentoml._internal.context import server_context

        worker = server_context.worker_index or os.getpid()
        self._probes = probe_process(server_context.worker_index)
        self._loader = threading.Thread(
            target=load_runtime, args=(SETTINGS, STATE, worker), name="vigia-loader", daemon=True
        )
        self._loader.start()

    def __is_ready__(self) -> bool:
        """Loaded: the model can answer. The prediction log's health is a metric
        (vigia_prediction_log_up), not readiness: during a database outage predictions are
        buffered and answered, and every replica going unready at once would stop them."""
        return STATE.runtime is not None

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
