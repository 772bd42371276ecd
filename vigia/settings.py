"""Settings read from the environment, defined once.

The operator writes these variables into the model server's pod spec; the server
reads them. ``ENV`` maps each setting to its variable name so neither side spells
a name twice.
"""

from typing import Final, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX: Final = "VIGIA_"


class ServingSettings(BaseSettings):
    """How a model server process is configured."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    model_uri: str = Field(description="URI of the exported model bundle (file://, s3://).")
    model_digest: str | None = Field(
        default=None, description="sha256:<hex> of the bundle; checked before loading."
    )
    model_name: str | None = Field(
        default=None, description="Name of the model in metrics; defaults to the bundle's name."
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
    max_batch_rows: int = Field(default=1000, ge=1, description="Largest /predict body, in rows.")
    home: str = Field(default="/tmp/vigia", description="Writable directory for the model store.")
    workers: int = Field(default=1, ge=1, description="Server worker processes.")
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
    tracing: bool = Field(
        default=False, description="OpenTelemetry spans for every request (costly per request)."
    )
    access_log: bool = Field(default=False, description="Log every HTTP request.")
    # Bounds: every resource a request can take is limited; beyond a limit the request is
    # refused at once (413, or 503 with Retry-After for load) rather than queued.
    max_body_bytes: int = Field(
        default=8 * 1024 * 1024, ge=1024, description="Largest request body, in bytes."
    )
    max_concurrency: int = Field(
        default=128, ge=1, description="Requests handled at once per worker; more get 503."
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


def env_name(field: str) -> str:
    """The environment variable that sets ``field`` of a settings class."""
    return f"{ENV_PREFIX}{field.upper()}"
