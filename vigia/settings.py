"""Settings read from the environment, defined once.

The operator writes these variables into the model server's pod spec; the server
reads them. ``ENV`` maps each setting to its variable name so neither side spells
a name twice.
"""

import json
from typing import Annotated, Final, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from vigia.retraining import parse_duration

ENV_PREFIX: Final = "VIGIA_"
RETRAIN_ENV_PREFIX: Final = "VIGIA_RETRAIN_"
# The port of the model server's probes (vigia_serving.probes); the operator's probes ask it.
DEFAULT_PROBE_PORT: Final = 3001


class ServingSettings(BaseSettings):
    """How a model server process is configured."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    model_uri: str = Field(description="URI of the exported model bundle (file://, s3://).")
    model_digest: str | None = Field(
        default=None, description="sha256:<hex> of the bundle; checked before loading."
    )
    allow_sidecar_digest: bool = Field(
        default=False,
        description="Trust <uri>.sha256 beside a remote (s3) bundle when no digest is given.",
    )
    model_name: str | None = Field(
        default=None,
        description="The `model` label of every metric: the ModelDeployment's name (the "
        "operator sets it); defaults to the bundle's name.",
    )
    model_version: str | None = Field(
        default=None,
        description="The `version` label of every metric and prediction-log row: the "
        "version the ModelDeployment rolls out (the operator sets it); defaults to the "
        "bundle's.",
    )
    namespace: str = Field(
        default="default",
        min_length=1,
        description="The `namespace` label of every metric: the ModelDeployment's namespace "
        "(the operator sets it).",
    )
    track: Literal["stable", "canary"] = Field(default="stable", description="Rollout track.")
    store_url: str = Field(
        default="sqlite:////tmp/vigia-predictions.db",
        description="SQLAlchemy URL of the prediction log and feedback store.",
    )
    log_features: Literal["all", "none", "sample"] = Field(
        default="all", description="Whether prediction features are logged."
    )
    log_sample_rate: float = Field(default=1.0, ge=0.0, le=1.0)
    monitoring: bool = Field(default=True, description="Export monitoring metrics.")
    error_tolerance: float | None = Field(
        default=None, ge=0.0,
        description="A regressor's tolerance, in the model's units: feedback off by more "
        "counts as incorrect (spec.monitoring.error.tolerance); default: the bundle's "
        "abs_error_p90. Ignored for a classifier.",
    )
    segments: str = Field(
        default="",
        description="Comma-separated categorical features whose values are also counted on "
        "their own (spec.monitoring.segments; vigia.segments). Each must have a segment "
        "reference in the bundle's profile (categorical, at most 20 values), else the server "
        "refuses to start.",
    )
    runtime: Literal["sklearn", "onnx", "auto"] = Field(
        default="sklearn",
        description="What computes predictions: scikit-learn, the ONNX form (onnxruntime; "
        "refuses to start when parity fails), or auto (ONNX only when parity holds).",
    )
    max_request_rows: int = Field(default=1000, ge=1, description="Largest /predict body, in rows.")
    home: str = Field(default="/tmp/vigia", description="Writable directory for the model store.")
    workers: int = Field(default=1, ge=1, description="Server worker processes.")
    probe_port: int = Field(
        default=DEFAULT_PROBE_PORT, ge=0, le=65535,
        description="Port of the liveness and readiness probes, answered by a process of "
        "their own that prediction work cannot delay (vigia_serving.probes); 0: none.",
    )
    batch_max_rows: int = Field(
        default=128, ge=1, description="Most rows the micro-batcher gives the model in one call."
    )
    batch_wait_ms: float = Field(
        default=0.0,
        ge=0.0,
        le=1000.0,
        description="How long a batch waits for more requests before running (0: never).",
    )
    flush_interval_s: float = Field(
        default=0.5, gt=0.0, description="Seconds between writes of the prediction log."
    )
    max_explain_rows: int = Field(default=50, ge=1, description="Largest /explain body, in rows.")
    browser_page: bool = Field(
        default=False,
        description="Serve the browser page under /app/, which hands the model itself "
        "(model.onnx, and model.json with the training ranges) to whoever reaches the "
        "server; off: /app/ is 404 (spec.serving.browserPage.enabled).",
    )
    telemetry: bool = Field(
        default=False,
        description="Accept POST /telemetry: aggregates (counts on the training bins, never "
        "an input) from device runners and browser pages, counted with source=edge|browser.",
    )
    telemetry_reports_per_minute: int = Field(
        default=60, ge=1, description="Telemetry reports accepted per minute per worker; "
        "more get 429 with Retry-After.",
    )
    tracing: bool = Field(
        default=False, description="OpenTelemetry spans for every request (costly per request)."
    )
    access_log: bool = Field(default=False, description="Log every HTTP request.")
    # Bounds: every resource a request can take is limited; beyond a limit the request is
    # refused at once (413, or 503 with Retry-After for load) rather than queued.
    # The memory limit bounds both below: vigia_serving.bounds, docs/serving.md.
    max_body_bytes: int = Field(
        default=8 * 1024 * 1024, ge=1024,
        description="Largest request body, in bytes (lowered to fit the memory limit).",
    )
    max_concurrency: int = Field(
        default=128, ge=1, description="Requests handled at once per worker; more get 503 "
        "(lowered to fit the memory limit).",
    )
    memory_limit_bytes: int | None = Field(
        default=None, ge=64 * 1024 * 1024, description="The memory the server may use, "
        "where the container's cgroup sets no lower limit (default: the cgroup's, else "
        "1 GiB).",
    )
    max_queued_rows: int = Field(
        default=2048, ge=1, description="Rows waiting for the model per worker; more get 503."
    )
    max_explain_concurrency: int = Field(
        default=2, ge=1, description="/explain requests at once per worker (one runs)."
    )
    inline_parse_bytes: int = Field(
        default=32 * 1024, ge=0, description="Larger bodies are parsed off the event loop."
    )
    retry_after_s: int = Field(default=1, ge=1, description="Retry-After of a 503 for load.")
    check_gone_after_ms: float = Field(
        default=1000.0, ge=0.0, description="A queued request that waited this long is "
        "skipped if its client has gone (each check costs a turn of the event loop).",
    )
    feedback_wait_s: float | None = Field(
        default=None,
        ge=0.0,
        description="How long feedback for an unknown id waits for another replica's log "
        "to be written before 404 (default: two flush intervals plus 0.5 s).",
    )
    max_buffered_predictions: int = Field(
        default=200_000, ge=1, description="Prediction-log rows kept in memory while the "
        "database is unreachable; beyond it the oldest are dropped and counted.",
    )
    log_retention_days: float = Field(
        default=30.0, ge=0.0, description="Predictions and their feedback older than this are "
        "deleted (0: kept forever).",
    )
    shutdown_flush_s: float = Field(
        default=10.0, ge=0.0, description="How long shutdown keeps retrying the last flush.",
    )
    bundle_max_bytes: int = Field(
        default=2 * 1024**3, ge=1, description="Largest bundle download."
    )
    bundle_timeout_s: float = Field(
        default=600.0, gt=0.0, description="Longest bundle download."
    )
    load_retry_max_s: float = Field(
        default=60.0, gt=0.0, description="Longest pause between attempts to load the bundle."
    )

    @property
    def feedback_wait(self) -> float:
        if self.feedback_wait_s is not None:
            return self.feedback_wait_s
        return 2 * self.flush_interval_s + 0.5


class RetrainSettings(BaseSettings):
    """What one retraining job (`vigia-retrain`) is given. The operator's Job builder
    writes these variables (``retrain_env_name``); the job reads them."""

    model_config = SettingsConfigDict(env_prefix=RETRAIN_ENV_PREFIX, extra="ignore")

    dataset_uri: str = Field(
        min_length=1, description="Base training data, CSV or Parquet (path, file://, s3://)."
    )
    target: str = Field(min_length=1, description="Name of the label column in the dataset.")
    model_uri: str = Field(min_length=1, description="URI of the current model bundle.")
    model_digest: str | None = Field(
        default=None, description="sha256:<hex> of the current bundle (default: its sidecar)."
    )
    output_uri: str = Field(
        min_length=1,
        description="Directory (path, file://, s3://) for the candidate bundle and its report.",
    )
    candidate_version: str | None = Field(
        default=None, description="Version of the candidate (default: r<UTC timestamp>)."
    )
    store_url: str | None = Field(
        default=None, description="SQLAlchemy URL of the model server's prediction log."
    )
    include_feedback: bool = Field(
        default=True, description="Train and evaluate on labelled feedback from the store."
    )
    feedback_model: str | None = Field(
        default=None,
        description="Model name in the prediction log (default: the current bundle's name).",
    )
    feedback_namespace: str = Field(
        default="default",
        min_length=1,
        description="Namespace of the model in the prediction log (the server's `namespace`); "
        "only its rows are read.",
    )
    feedback_window: str = Field(
        default="7d", description="Use feedback on predictions made within this window."
    )
    feedback_holdout: float = Field(
        default=0.3, gt=0.0, lt=1.0, description="Newest share of feedback kept for the gate."
    )
    min_feedback_rows: int = Field(
        default=30, ge=1, description="Fewest usable labelled feedback rows to retrain on."
    )
    holdout_fraction: float = Field(
        default=0.2, gt=0.0, lt=1.0, description="Share of the base dataset held out."
    )
    min_improvement: float = Field(
        default=0.0,
        ge=-1.0,
        le=1.0,
        description="Least accuracy gain of the candidate over the current model on recent "
        "feedback (on the holdout when there is no feedback).",
    )
    max_holdout_loss: float = Field(
        default=0.02,
        ge=0.0,
        le=1.0,
        description="Most accuracy the candidate may lose on the original holdout.",
    )
    sensitive_features: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Features whose groups must be treated alike."
    )
    max_parity_difference: float = Field(
        default=0.1,
        ge=0.0,
        le=1.0,
        description="Largest demographic parity and equalized odds difference between groups.",
    )
    error_costs: str | None = Field(
        default=None,
        description="spec.monitoring.costs as JSON ({unit, errors: [{predicted, actual, "
        "cost}]}): each error's cost, for the candidate's expected cost.",
    )
    max_cost_increase: float | None = Field(
        default=None,
        ge=0.0,
        description="Most the candidate's expected cost per 1,000 predictions may exceed the "
        "current model's (with error_costs; unset: the cost is reported, not judged).",
    )
    min_group_size: int = Field(
        default=30, ge=1, description="Groups with fewer evaluation rows are left out."
    )
    drop_tolerance: float = Field(
        default=0.005,
        ge=0.0,
        le=1.0,
        description="A feature whose loss costs at most this accuracy could be dropped.",
    )
    seed: int = Field(default=0, description="Random seed of splits and importance.")
    export_onnx: bool = Field(
        default=False,
        description="Also export the candidate to ONNX, parity-checked (spec.export.onnx).",
    )
    home: str = Field(default="/tmp/vigia", description="Writable working directory.")
    termination_path: str | None = Field(
        default=None,
        description="Where the result is written (default: /dev/termination-log if it exists).",
    )

    @field_validator("sensitive_features", mode="before")
    @classmethod
    def _split_names(cls, value: object) -> object:
        """Accept ``a,b`` as well as a JSON array ``["a", "b"]``."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [name.strip() for name in text.split(",") if name.strip()]
        return value

    @field_validator("feedback_window")
    @classmethod
    def _check_window(cls, value: str) -> str:
        parse_duration(value)
        return value


def env_name(field: str) -> str:
    """The environment variable that sets ``field`` of a settings class."""
    return f"{ENV_PREFIX}{field.upper()}"


def retrain_env_name(field: str) -> str:
    """The environment variable that sets ``field`` of ``RetrainSettings``."""
    return f"{RETRAIN_ENV_PREFIX}{field.upper()}"
