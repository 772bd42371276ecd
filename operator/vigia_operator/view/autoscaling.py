"""spec.serving.autoscaling, typed: the bounds and the target of the stable track's
HorizontalPodAutoscaler (children/autoscaler.py builds it; docs/autoscaling.md)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from vigia_operator.core.fields import SpecError

PATH: Final = "spec.serving.autoscaling"


@dataclass(frozen=True)
class Autoscaling:
    min_replicas: int
    max_replicas: int
    # Exactly one target: percent of the containers' CPU request, or requests per second
    # per pod (the servers' own request counter, served by a Prometheus adapter).
    cpu_utilization: int | None
    requests_per_second: float | None
    scale_down_stabilization_s: int | None = None  # None: the HPA's default (300 s)


def parse_autoscaling(serving: Mapping[str, Any]) -> Autoscaling | None:
    """The autoscaling section, or None when the replica count is fixed; SpecError naming
    the field for what the CRD rules out but an object stored before them may hold."""
    raw = serving.get("autoscaling")
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise SpecError(PATH, "must be an object")
    if serving.get("replicas") is not None:
        raise SpecError("spec.serving.replicas",
                        "must not be set with spec.serving.autoscaling (the autoscaler sets it)")
    low = _int(raw, "minReplicas", 1)
    high = _int(raw, "maxReplicas", None)
    if low < 1:
        raise SpecError(f"{PATH}.minReplicas", f"must be at least 1, not {low}")
    if high < low:
        raise SpecError(f"{PATH}.maxReplicas",
                        f"{high} is below minReplicas {low}")
    target = raw.get("target")
    if not isinstance(target, Mapping):
        raise SpecError(f"{PATH}.target", "must be an object")
    cpu, rps = target.get("cpuUtilization"), target.get("requestsPerSecond")
    if (cpu is None) == (rps is None):
        raise SpecError(f"{PATH}.target", "set exactly one of cpuUtilization and "
                        "requestsPerSecond")
    window = raw.get("scaleDownStabilizationSeconds")
    return Autoscaling(
        min_replicas=low, max_replicas=high,
        cpu_utilization=None if cpu is None else _positive(cpu, "cpuUtilization", int),
        requests_per_second=None if rps is None else float(
            _positive(rps, "requestsPerSecond", (int, float))),
        scale_down_stabilization_s=None if window is None else _int(
            raw, "scaleDownStabilizationSeconds", None),
    )


def _int(raw: Mapping[str, Any], key: str, default: int | None) -> int:
    value = raw.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool):
        raise SpecError(f"{PATH}.{key}", f"must be an integer, not {value!r}")
    return value


def _positive(value: Any, key: str, kind: Any) -> Any:
    if not isinstance(value, kind) or isinstance(value, bool) or value <= 0:
        raise SpecError(f"{PATH}.target.{key}", f"must be a positive number, not {value!r}")
    return value
