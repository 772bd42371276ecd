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
    runtime: Literal["sklearn", "onnx", "auto"] = Field(
        default="sklearn",
        description="What computes predictions: scikit-learn, the ONNX form (onnxruntime; "
        "refuses to start when parity fails), or auto (ONNX only when parity holds).",
    )
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


def env_name(field: str) -> str:
    """The environment variable that sets ``field`` of a settings class."""
    return f"{ENV_PREFIX}{field.upper()}"
