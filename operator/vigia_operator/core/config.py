"""The operator's configuration, from VIGIA_OPERATOR_* environment variables.

The Helm chart renders these names from its values; `python3 -m vigia_operator --help`
lists them. Policy settings (images, Gateways and host names, Secrets, sidecar digests)
are the trust boundary between whoever may create a ModelDeployment and what runs in the
cluster.
"""

from __future__ import annotations

import socket
from typing import Annotated, Final

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ENV_PREFIX: Final = "VIGIA_OPERATOR_"
PROJECT_IMAGE: Final = "docker.io/vigia/vigia"
DEFAULT_SECRET_LABEL: Final = "vigia.dev/model-access=true"
# In gateway and hostname patterns: the namespace of the ModelDeployment being checked.
NAMESPACE_PLACEHOLDER: Final = "{namespace}"

# A KPI (spec.monitoring.kpis[].query) is a tenant's PromQL: each is bounded on its own, and
# one past a bound fails only that KPI. Prometheus is asked to stop at KPI_TIMEOUT_S (its
# ``timeout`` parameter); the client gives up KPI_TIMEOUT_GRACE_S later if it has not.
KPI_TIMEOUT_S: Final = 10.0
KPI_TIMEOUT_GRACE_S: Final = 2.0
# A KPI reduces to one number: more series than this, or a larger response, is refused
# (Prometheus is asked for at most one series more, through its ``limit`` parameter).
KPI_MAX_SERIES: Final = 1
KPI_MAX_RESPONSE_BYTES: Final = 64 * 1024
# One object's reconcile (its API calls included) past this is stopped and reported on
# that object (Degraded, OverBudget), so it cannot hold the others' decisions.
RECONCILE_BUDGET_SECONDS: Final = 30.0
# The tick's collection of signals for every object, bounded the same way.
COLLECT_BUDGET_SECONDS: Final = 30.0
# Liveness fails when no tick has completed for this many intervals (plus the budgets).
TICK_LIVENESS_INTERVALS: Final = 5
# Most shards (VIGIA_OPERATOR_SHARDS): each is a Lease renewed every few seconds.
MAX_SHARDS: Final = 64
# The supervised tick's restarts after a crash wait 1, 2, 4, ... seconds, at most this.
TICK_RESTART_MAX_SECONDS: Final = 60.0


class OperatorSettings(BaseSettings):
    """How one operator process behaves."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    allowed_images: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(PROJECT_IMAGE,),
        description="Comma-separated image reference prefixes a ModelDeployment may run "
        "(compared normalised: vigia/vigia:1 is docker.io/vigia/vigia:1).",
    )
    secret_label: str = Field(
        default=DEFAULT_SECRET_LABEL,
        description="key=value label a Secret must carry to be referenced by a "
        "ModelDeployment (e.g. predictionLog.storeSecretRef).",
    )
    allowed_gateways: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(f"{NAMESPACE_PLACEHOLDER}/*",),
        description="Comma-separated NAMESPACE/NAME of the Gateways an HTTPRoute of a "
        "ModelDeployment may attach to (spec.rollout.traffic.httpRoute.parentRefs); NAME "
        "or NAMESPACE may be *, {namespace} is the ModelDeployment's own. Default: the "
        "Gateways of its own namespace only.",
    )
    allowed_hostnames: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(),
        description="Comma-separated host names an HTTPRoute of a ModelDeployment may "
        "match (spec.rollout.traffic.httpRoute.hostnames): exact, *.SUFFIX for any name "
        "under SUFFIX, or * for any; {namespace} is the ModelDeployment's own. Default: "
        "none (the route takes the host names of the Gateway listener it attaches to).",
    )
    allow_sidecar_digest: bool = Field(
        default=False,
        description="Trust a <uri>.sha256 file beside a remote bundle when spec.model.digest "
        "is not set. Off: the digest in the resource is the trust anchor.",
    )
    prometheus_url: str = Field(
        default="", description="Prometheus base URL for monitoring; empty: monitoring off."
    )
    metrics_port: int = Field(
        default=0, ge=0, le=65535,
        description="Port of the operator's own /metrics (monitoring gauges, tick duration, "
        "query errors); 0: not served.",
    )
    tick_seconds: float = Field(
        default=60.0, gt=0.0, description="Seconds between two ticks (collect, then decide)."
    )
    reconcile_budget_seconds: float = Field(
        default=RECONCILE_BUDGET_SECONDS, gt=0.0,
        description="Most seconds one ModelDeployment's reconcile may take; past it the "
        "object is marked Degraded (OverBudget) and the others go on.",
    )
    collect_budget_seconds: float = Field(
        default=COLLECT_BUDGET_SECONDS, gt=0.0,
        description="Most seconds the tick's collection of signals may take; past it the "
        "tick decides without signals (monitoring Unknown) rather than wait.",
    )
    namespaces: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(), description="Comma-separated namespaces to watch; empty: every namespace."
    )
    concurrency: int = Field(
        default=16, ge=1, description="Most ModelDeployments reconciled at once."
    )
    leader_election: bool = Field(
        default=False,
        description="Hold a Lease before acting, so that of several replicas only one acts.",
    )
    lease_namespace: str = Field(
        default="vigia-system", description="Namespace of the leader-election Lease."
    )
    shards: int = Field(
        default=1, ge=1, le=MAX_SHARDS,
        description="Shards the ModelDeployments are split into (by a hash of namespace/"
        "name), each a Lease in lease_namespace that one replica holds; replicas share them "
        "fairly and take over a dead one's within one lease period. 1: leader election.",
    )
    identity: str = Field(
        default_factory=socket.gethostname,
        description="This replica's name in Leases and Events (the pod's name).",
    )

    @field_validator("allowed_images", "allowed_gateways", "allowed_hostnames", "namespaces",
                     mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("allowed_gateways")
    @classmethod
    def _gateways(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for entry in value:
            namespace, sep, name = entry.partition("/")
            if not sep or not namespace or not name or "/" in name:
                raise ValueError(f"{ENV_PREFIX}ALLOWED_GATEWAYS entries are NAMESPACE/NAME "
                                 f"(either may be *), not {entry!r}")
        return value

    @field_validator("secret_label")
    @classmethod
    def _label(cls, value: str) -> str:
        key, sep, _ = value.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{ENV_PREFIX}SECRET_LABEL must be key=value, not {value!r}")
        return value

    @property
    def secret_label_pair(self) -> tuple[str, str]:
        key, _, value = self.secret_label.partition("=")
        return key.strip(), value.strip()
