"""A typed view of the parts of a ModelDeployment the operator acts on.

The API server has already validated and defaulted the object with the CRD's schema; this
module only turns the JSON into typed values and refuses, with the field's path, anything
the schema could not rule out (e.g. an object stored before the CRD gained a default).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast

from vigia_operator.core.fields import SpecError
from vigia_operator.view.autoscaling import Autoscaling, parse_autoscaling
from vigia_operator.view.monitoring import MonitoringSpec, parse_monitoring
from vigia_operator.view.task import TASKS, Task

if TYPE_CHECKING:
    from vigia_operator.view.rollout import RolloutSpec

T = TypeVar("T")

LABEL_VALUE = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
BUNDLE_SUFFIXES = (".bentomodel", ".tar.gz", ".tgz", ".zip", ".tar")

LogFeatures = Literal["all", "none", "sample"]


@dataclass(frozen=True)
class SecretKey:
    name: str
    key: str


@dataclass(frozen=True)
class Model:
    uri: str
    digest: str | None
    version: str
    task: Task = "Classification"


@dataclass(frozen=True)
class Serving:
    image: str
    image_pull_policy: str
    replicas: int
    resources: dict[str, dict[str, str | int]]
    max_request_rows: int
    batch_max_rows: int
    batch_wait_ms: int
    log_features: LogFeatures
    log_sample_rate: float
    store: SecretKey | None
    runtime: str = "sklearn"
    browser_page: bool = False  # spec.serving.browserPage.enabled
    telemetry: bool = False  # spec.serving.telemetry.enabled
    # None: ``replicas`` is fixed; else the HPA sets the stable track's count and
    # ``replicas`` is its minimum (what a new stable Deployment starts with).
    autoscaling: Autoscaling | None = None


@dataclass(frozen=True)
class ModelDeploymentView:
    """What the builders need from one ModelDeployment."""

    name: str
    namespace: str
    uid: str
    generation: int
    model: Model
    serving: Serving
    monitoring_enabled: bool
    monitoring: MonitoringSpec = field(default_factory=MonitoringSpec)
    rollout: RolloutSpec | None = None  # None only in views built by hand (tests)


def parse(body: Mapping[str, Any]) -> ModelDeploymentView:
    """Read a ModelDeployment object; raise SpecError naming the first unusable field."""
    # rollout.spec raises this module's SpecError: imported here, not at the top.
    from vigia_operator.view.rollout import parse_rollout

    meta = _mapping(body, "metadata", "metadata")
    spec = _mapping(body, "spec", "spec")
    return ModelDeploymentView(
        name=_typed(meta, "name", str, "metadata.name"),
        namespace=_typed(meta, "namespace", str, "metadata.namespace"),
        uid=_typed(meta, "uid", str, "metadata.uid"),
        generation=_typed(meta, "generation", int, "metadata.generation"),
        model=_parse_model(_mapping(spec, "model", "spec.model")),
        serving=_parse_serving(_mapping(spec, "serving", "spec.serving")),
        monitoring_enabled=_typed(
            _mapping(spec, "monitoring", "spec.monitoring"), "enabled", bool,
            "spec.monitoring.enabled",
        ),
        monitoring=parse_monitoring(spec),
        rollout=parse_rollout(spec),
    )


def version_of(uri: str) -> str:
    """A label-safe version name from a bundle URI: its last path segment, else a hash."""
    path = uri.split("://", 1)[-1].rstrip("/")
    segment = path.rsplit("/", 1)[-1] if "/" in path else ""
    for suffix in BUNDLE_SUFFIXES:
        if segment.endswith(suffix):
            segment = segment[: -len(suffix)]
            break
    segment = re.sub(r"[^-A-Za-z0-9_.]", "-", segment)[:63].strip("-_.")
    if LABEL_VALUE.match(segment):
        return segment
    return "uri-" + hashlib.sha256(uri.encode()).hexdigest()[:12]


def _parse_model(model: Mapping[str, Any]) -> Model:
    uri = _typed(model, "uri", str, "spec.model.uri")
    if "://" not in uri:
        raise SpecError("spec.model.uri", f"{uri!r} has no scheme")
    digest = _optional(model, "digest", str, "spec.model.digest")
    version = _optional(model, "version", str, "spec.model.version") or version_of(uri)
    if not LABEL_VALUE.match(version) or len(version) > 63:
        raise SpecError("spec.model.version", f"{version!r} is not a valid label value")
    task = model.get("task", "Classification")
    if task not in TASKS:
        raise SpecError("spec.model.task", f"unknown task {task!r}; one of {TASKS}")
    return Model(uri=uri, digest=digest, version=version, task=task)


def _parse_serving(serving: Mapping[str, Any]) -> Serving:
    log = _mapping(serving, "predictionLog", "spec.serving.predictionLog")
    batching = _mapping(serving, "batching", "spec.serving.batching")
    features = _typed(log, "features", str, "spec.serving.predictionLog.features")
    if features not in ("all", "none", "sample"):
        raise SpecError("spec.serving.predictionLog.features", f"unknown value {features!r}")
    store = _optional(log, "storeSecretRef", dict, "spec.serving.predictionLog.storeSecretRef")
    page = _optional(serving, "browserPage", dict, "spec.serving.browserPage") or {}
    telemetry = _optional(serving, "telemetry", dict, "spec.serving.telemetry") or {}
    autoscaling = parse_autoscaling(serving)
    # No schema default: spec.serving.replicas is absent when an autoscaler sets the count.
    replicas = _optional(serving, "replicas", int, "spec.serving.replicas")
    if replicas is None:
        replicas = 1 if autoscaling is None else autoscaling.min_replicas
    if replicas < 1:
        raise SpecError("spec.serving.replicas", f"must be at least 1, not {replicas}")
    return Serving(
        image=_typed(serving, "image", str, "spec.serving.image"),
        image_pull_policy=_typed(serving, "imagePullPolicy", str, "spec.serving.imagePullPolicy"),
        replicas=replicas,
        autoscaling=autoscaling,
        resources=_parse_resources(serving.get("resources"), "spec.serving.resources"),
        max_request_rows=_typed(serving, "maxRequestRows", int, "spec.serving.maxRequestRows"),
        batch_max_rows=_typed(batching, "maxBatchSize", int, "spec.serving.batching.maxBatchSize"),
        batch_wait_ms=_typed(batching, "maxLatencyMs", int, "spec.serving.batching.maxLatencyMs"),
        log_features=cast(LogFeatures, features),
        runtime=_optional(serving, "runtime", str, "spec.serving.runtime") or "sklearn",
        browser_page=bool(_optional(page, "enabled", bool, "spec.serving.browserPage.enabled")),
        telemetry=bool(_optional(telemetry, "enabled", bool, "spec.serving.telemetry.enabled")),
        log_sample_rate=float(
            _typed(log, "sampleRate", (int, float), "spec.serving.predictionLog.sampleRate")
        ),
        store=None if store is None else SecretKey(
            name=_typed(store, "name", str, "spec.serving.predictionLog.storeSecretRef.name"),
            key=_typed(store, "key", str, "spec.serving.predictionLog.storeSecretRef.key"),
        ),
    )


def _parse_resources(value: Any, path: str) -> dict[str, dict[str, str | int]]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise SpecError(path, "must be an object")
    parsed: dict[str, dict[str, str | int]] = {}
    for kind in ("requests", "limits"):
        amounts = value.get(kind)
        if amounts is None:
            continue
        if not isinstance(amounts, Mapping):
            raise SpecError(f"{path}.{kind}", "must be an object")
        for resource, amount in amounts.items():
            if not isinstance(amount, str | int) or isinstance(amount, bool):
                raise SpecError(f"{path}.{kind}.{resource}", "must be a quantity")
        parsed[kind] = dict(amounts)
    return parsed


def _mapping(obj: Mapping[str, Any], key: str, path: str) -> Mapping[str, Any]:
    return cast(Mapping[str, Any], _typed(obj, key, Mapping, path))


def _typed(obj: Mapping[str, Any], key: str, kind: Any, path: str) -> Any:
    if key not in obj or obj[key] is None:
        raise SpecError(path, "is missing (is the CRD from manifests/crd installed?)")
    value = obj[key]
    # bool is an int in Python; a boolean where a number belongs is still a mistake.
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise SpecError(path, f"must be {_kind_name(kind)}, not {type(value).__name__}")
    return value


def _optional(obj: Mapping[str, Any], key: str, kind: type[T], path: str) -> T | None:
    if obj.get(key) is None:
        return None
    return cast(T, _typed(obj, key, kind, path))


def _kind_name(kind: Any) -> str:
    names = {str: "a string", int: "an integer", bool: "a boolean", dict: "an object"}
    if isinstance(kind, tuple):
        return "a number"
    return names.get(kind, "an object")
