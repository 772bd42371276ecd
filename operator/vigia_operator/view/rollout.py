"""A typed view of spec.rollout, and the manual command annotation.

The API server has validated and defaulted the object; this refuses, naming the field,
what the schema could not rule out (an object stored before the CRD gained a field).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, cast

from vigia_operator.core.fields import SpecError, parse_duration
from vigia_operator.view.task import is_regression

# Manual control: `kubectl annotate md NAME vigia.dev/rollout=promote --overwrite`.
COMMAND_ANNOTATION: Final = "vigia.dev/rollout"
COMMANDS: Final = ("promote", "abort", "pause", "resume")

Router = Literal["Replicas", "GatewayAPI"]
NoDataPolicy = Literal["Inconclusive", "Pass", "Fail"]
FULL_WEIGHT: Final = 100

ERROR_RATE = "errorRate"
LATENCY_P95 = "latencyP95"
ACCURACY_DROP = "accuracyDrop"
# A regressor's feedback gate: the rise of its share off by more than its tolerance, judged by
# the accuracy drop's test (that share is 1 - the accuracy its servers count).
MAX_ERROR_INCREASE = "maxErrorIncrease"
PREDICTION_SHIFT = "predictionShift"
INPUT_DRIFT = "inputDrift"
# Canary minus stable expected cost per 1,000 predictions, in spec.monitoring.costs.unit;
# judged only when spec.monitoring.costs is given.
COST_INCREASE = "costIncrease"
GATE_NAMES = (ERROR_RATE, LATENCY_P95, ACCURACY_DROP, MAX_ERROR_INCREASE, PREDICTION_SHIFT,
              INPUT_DRIFT, COST_INCREASE)
FEEDBACK_GATES = (ACCURACY_DROP, MAX_ERROR_INCREASE)
DEFAULT_FEEDBACK_MARGIN: Final = 0.02

DEFAULT_MIN_FEEDBACK: Final = 50
DEFAULT_INPUT_DRIFT: Final = 0.1


@dataclass(frozen=True)
class Step:
    weight: int
    pause_s: float


@dataclass(frozen=True)
class Gates:
    """Limits on the canary against the stable track; None disables a gate."""

    error_rate: float | None
    latency_p95: float | None
    accuracy_drop: float | None
    prediction_shift: float | None
    input_drift: float | None
    cost_increase: float | None = None
    # A regressor's (then accuracy_drop is None): margin on the rise of the share off by more
    # than the tolerance.
    error_increase: float | None = None

    @property
    def feedback_gate(self) -> tuple[str, float] | None:
        """The gate judged on feedback, by name, with its margin (None: skipped)."""
        if self.error_increase is not None:
            return MAX_ERROR_INCREASE, self.error_increase
        if self.accuracy_drop is not None:
            return ACCURACY_DROP, self.accuracy_drop
        return None


@dataclass(frozen=True)
class AnalysisSpec:
    interval_s: float
    min_samples: int
    min_feedback: int
    on_no_data: NoDataPolicy
    failure_limit: int
    gates: Gates


@dataclass(frozen=True)
class ParentRef:
    name: str
    namespace: str | None = None
    section_name: str | None = None


@dataclass(frozen=True)
class HTTPRouteSpec:
    name: str
    parent_refs: tuple[ParentRef, ...]
    hostnames: tuple[str, ...] = ()


@dataclass(frozen=True)
class RolloutSpec:
    steps: tuple[Step, ...]
    router: Router
    http_route: HTTPRouteSpec | None
    analysis: AnalysisSpec



def parse_rollout(spec: Mapping[str, Any]) -> RolloutSpec:
    rollout = _mapping(spec.get("rollout", {}), "spec.rollout")
    traffic = _mapping(rollout.get("traffic", {}), "spec.rollout.traffic")
    router = traffic.get("router", "Replicas")
    if router not in ("Replicas", "GatewayAPI"):
        raise SpecError("spec.rollout.traffic.router", f"unknown router {router!r}")
    route = traffic.get("httpRoute")
    if router == "GatewayAPI" and route is None:
        raise SpecError("spec.rollout.traffic.httpRoute", "is required when router is GatewayAPI")
    return RolloutSpec(
        steps=_steps(rollout.get("steps")),
        router=cast(Router, router),
        http_route=None if route is None else _http_route(route),
        analysis=_analysis(_mapping(rollout.get("analysis", {}), "spec.rollout.analysis"),
                           is_regression(spec)),
    )


def parse_command(annotations: Mapping[str, str] | None) -> str | None:
    """The manual command annotation's value, as written (checked by the state machine)."""
    if not annotations:
        return None
    value = annotations.get(COMMAND_ANNOTATION)
    return value.strip().lower() if isinstance(value, str) and value.strip() else None


def _steps(value: Any) -> tuple[Step, ...]:
    if value is None:
        return (Step(10, 120.0), Step(50, 300.0))
    if not isinstance(value, list):
        raise SpecError("spec.rollout.steps", "must be a list")
    steps: list[Step] = []
    for i, item in enumerate(value):
        path = f"spec.rollout.steps[{i}]"
        item = _mapping(item, path)
        weight = item.get("weight")
        if not isinstance(weight, int) or isinstance(weight, bool) or not 1 <= weight <= 100:
            raise SpecError(f"{path}.weight", f"must be an integer from 1 to 100, not {weight!r}")
        if steps and weight <= steps[-1].weight:
            raise SpecError(f"{path}.weight", "weights must strictly rise from step to step")
        steps.append(Step(weight, parse_duration(item.get("pause", "2m"), f"{path}.pause")))
    return tuple(steps)


def _analysis(a: Mapping[str, Any], regression: bool = False) -> AnalysisSpec:
    path = "spec.rollout.analysis"
    on_no_data = a.get("onNoData", "Inconclusive")
    if on_no_data not in ("Inconclusive", "Pass", "Fail"):
        raise SpecError(f"{path}.onNoData", f"unknown policy {on_no_data!r}")
    return AnalysisSpec(
        interval_s=parse_duration(a.get("interval", "1m"), f"{path}.interval"),
        min_samples=_int(a, "minSamples", 200, 1, path),
        min_feedback=_int(a, "minFeedback", DEFAULT_MIN_FEEDBACK, 1, path),
        on_no_data=cast(NoDataPolicy, on_no_data),
        failure_limit=_int(a, "failureLimit", 2, 1, path),
        gates=_gates(_mapping(a.get("gates", {}), f"{path}.gates"), _skip(a, path), regression),
    )


def _skip(a: Mapping[str, Any], path: str) -> frozenset[str]:
    skip = a.get("skipGates") or []
    if not isinstance(skip, list):
        raise SpecError(f"{path}.skipGates", "must be a list of gate names")
    for i, name in enumerate(skip):
        if name not in GATE_NAMES:
            raise SpecError(f"{path}.skipGates[{i}]", f"unknown gate {name!r}; one of {GATE_NAMES}")
    return frozenset(skip)


def _gates(g: Mapping[str, Any], skip: frozenset[str], regression: bool = False) -> Gates:
    """The limits; the feedback gate is accuracyDrop for a classifier, maxErrorIncrease for
    a regressor (the CRD refuses the other one; here it is ignored)."""
    path = "spec.rollout.analysis.gates"
    feedback_gate = MAX_ERROR_INCREASE if regression else ACCURACY_DROP
    defaults = {
        ERROR_RATE: 0.01, LATENCY_P95: 1.5, feedback_gate: DEFAULT_FEEDBACK_MARGIN,
        PREDICTION_SHIFT: 0.2, INPUT_DRIFT: DEFAULT_INPUT_DRIFT, COST_INCREASE: 0.0,
    }
    limits = {
        name: None if name in skip else _limit(g, name, default, path)
        for name, default in defaults.items()
    }
    return Gates(
        error_rate=limits[ERROR_RATE],
        latency_p95=limits[LATENCY_P95],
        accuracy_drop=limits.get(ACCURACY_DROP),
        prediction_shift=limits[PREDICTION_SHIFT],
        input_drift=limits[INPUT_DRIFT],
        error_increase=limits.get(MAX_ERROR_INCREASE),
        cost_increase=limits[COST_INCREASE],
    )


def _http_route(value: Any) -> HTTPRouteSpec:
    path = "spec.rollout.traffic.httpRoute"
    route = _mapping(value, path)
    name = route.get("name")
    if not isinstance(name, str) or not name:
        raise SpecError(f"{path}.name", "must be a non-empty string")
    parents = route.get("parentRefs") or []
    if not isinstance(parents, list):
        raise SpecError(f"{path}.parentRefs", "must be a list")
    refs = []
    for i, parent in enumerate(parents):
        parent = _mapping(parent, f"{path}.parentRefs[{i}]")
        if not isinstance(parent.get("name"), str):
            raise SpecError(f"{path}.parentRefs[{i}].name", "must be a string")
        refs.append(ParentRef(parent["name"], parent.get("namespace"), parent.get("sectionName")))
    hostnames = route.get("hostnames") or []
    if not isinstance(hostnames, list) or not all(isinstance(h, str) for h in hostnames):
        raise SpecError(f"{path}.hostnames", "must be a list of host names")
    return HTTPRouteSpec(name, tuple(refs), tuple(hostnames))


def _mapping(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise SpecError(path, "must be an object")
    return value


def _int(obj: Mapping[str, Any], key: str, default: int, least: int, path: str) -> int:
    value = obj.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < least:
        raise SpecError(f"{path}.{key}", f"must be an integer of at least {least}, not {value!r}")
    return value


def _limit(obj: Mapping[str, Any], key: str, default: float, path: str) -> float:
    value = obj.get(key, default)
    if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
        raise SpecError(f"{path}.{key}", f"must be a number of at least 0, not {value!r}")
    return float(value)
