"""Pure builders of the model server's objects, as plain dicts.

Each builder returns a complete object for server-side apply: the operator applies it as
is, and compares it with what it observes to notice hand edits.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Final

from vigia.metrics import TRACK_STABLE
from vigia.settings import DEFAULT_PROBE_PORT, env_name
from vigia_operator.core import resources as r
from vigia_operator.view import ModelDeploymentView
from vigia_operator.view.policy import BUNDLE_MOUNT, PVC_SCHEME, pvc_location, server_uri

Obj = dict[str, Any]

SERVER_HOME = "/tmp/vigia"
TMP_VOLUME = "tmp"
TMP_SIZE_LIMIT = "1Gi"
BUNDLE_VOLUME = "bundles"
SERVER_UID = 10001  # fixed so runAsNonRoot can be verified whatever USER the image names
PROMETHEUS_ANNOTATIONS = {
    "prometheus.io/scrape": "true",
    "prometheus.io/port": str(r.SERVER_PORT),
    "prometheus.io/path": "/metrics",
}


def labels(md: ModelDeploymentView, track: str | None = None) -> dict[str, str]:
    """Labels of every child; with a track, also the pod-selecting track label."""
    out = {
        r.LABEL_NAME: r.SERVER_APP,
        r.LABEL_INSTANCE: md.name,
        r.LABEL_COMPONENT: r.SERVER_COMPONENT,
        r.LABEL_PART_OF: "vigia",
        r.LABEL_MANAGED_BY: r.MANAGED_BY,
        r.LABEL_OWNER: md.name,
    }
    if track is not None:
        out[r.LABEL_TRACK] = track
    return out


def selector(md: ModelDeploymentView, track: str | None = None) -> dict[str, str]:
    """Pod selector: both tracks for the Service, one track for a Deployment."""
    out = {r.LABEL_NAME: r.SERVER_APP, r.LABEL_INSTANCE: md.name}
    if track is not None:
        out[r.LABEL_TRACK] = track
    return out


def owner_reference(md: ModelDeploymentView) -> Obj:
    return {
        "apiVersion": r.API_VERSION,
        "kind": r.KIND,
        "name": md.name,
        "uid": md.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _metadata(md: ModelDeploymentView, name: str, track: str | None = None) -> Obj:
    return {
        "name": name,
        "namespace": md.namespace,
        "labels": labels(md, track),
        "ownerReferences": [owner_reference(md)],
    }


def build_service_account(md: ModelDeploymentView) -> Obj:
    """The model server's identity; it needs no API access, so no token is mounted."""
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": _metadata(md, r.service_account_name(md.name)),
        "automountServiceAccountToken": False,
    }


def server_settings(md: ModelDeploymentView) -> dict[str, str]:
    """Settings shared by the server's tracks (the model itself is set per Deployment)."""
    serving = md.serving
    return {
        env_name("model_name"): md.name,
        env_name("namespace"): md.namespace,  # with model_name: the metrics' identity
        env_name("log_features"): serving.log_features,
        env_name("log_sample_rate"): repr(serving.log_sample_rate),
        env_name("monitoring"): "true" if md.monitoring_enabled else "false",
        env_name("max_request_rows"): str(serving.max_request_rows),
        env_name("batch_max_rows"): str(serving.batch_max_rows),
        env_name("batch_wait_ms"): str(serving.batch_wait_ms),
        env_name("runtime"): serving.runtime,
        env_name("home"): SERVER_HOME,
        # Only when on: a key added for everyone would roll every server on upgrade.
        **({env_name("browser_page"): "true"} if serving.browser_page else {}),
        **_tolerance(md),
        **({env_name("telemetry"): "true"} if serving.telemetry else {}),
        **({env_name("segments"): ",".join(md.monitoring.segments)}
           if md.monitoring.segments else {}),
    }


def _tolerance(md: ModelDeploymentView) -> dict[str, str]:
    """A regressor's tolerance, only when the spec names one (else the bundle's own)."""
    error = md.monitoring.error
    if error is None or error.tolerance is None:
        return {}
    return {env_name("error_tolerance"): repr(error.tolerance)}


def build_configmap(md: ModelDeploymentView) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _metadata(md, r.configmap_name(md.name)),
        "data": server_settings(md),
    }


def build_service(md: ModelDeploymentView) -> Obj:
    """One Service over every track: with the Replicas router, weight is the replica ratio."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(md, r.service_name(md.name)),
        "spec": {
            "type": "ClusterIP",
            "selector": selector(md),
            "ports": [{
                "name": r.PORT_NAME,
                "port": r.SERVICE_PORT,
                "targetPort": r.PORT_NAME,
                "protocol": "TCP",
            }],
        },
    }


def config_hash(configmap: Obj) -> str:
    """Digest of the ConfigMap's data; in the pod template, so a settings change rolls pods."""
    data = json.dumps(configmap["data"], sort_keys=True).encode()
    return hashlib.sha256(data).hexdigest()[:16]



def _bundle_claim(md: ModelDeploymentView) -> str | None:
    if not md.model.uri.startswith(f"{PVC_SCHEME}://"):
        return None
    return pvc_location(md.model.uri)[0]


def _model_env(md: ModelDeploymentView, track: str, allow_sidecar_digest: bool) -> list[Obj]:
    env: list[Obj] = [
        {"name": env_name("model_uri"), "value": server_uri(md.model.uri)},
        {"name": env_name("track"), "value": track},
        {"name": env_name("model_version"), "value": md.model.version},
        {"name": env_name("probe_port"), "value": str(DEFAULT_PROBE_PORT)},
    ]
    if allow_sidecar_digest:
        env.append({"name": env_name("allow_sidecar_digest"), "value": "true"})
    if md.model.digest is not None:
        env.append({"name": env_name("model_digest"), "value": md.model.digest})
    store = md.serving.store
    if store is not None:
        env.append({
            "name": env_name("store_url"),
            "valueFrom": {"secretKeyRef": {"name": store.name, "key": store.key}},
        })
    return env


def restricted_pod_security() -> Obj:
    """The pod's part of the restricted Pod Security Standard, as a fixed non-root user."""
    return {
        "runAsNonRoot": True,
        "runAsUser": SERVER_UID,
        "runAsGroup": SERVER_UID,
        "fsGroup": SERVER_UID,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def restricted_container_security() -> Obj:
    """The container security context of Pod Security "restricted", as our image's user."""
    return {
        "runAsNonRoot": True,
        "runAsUser": SERVER_UID,
        "runAsGroup": SERVER_UID,
        "readOnlyRootFilesystem": True,
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def _probe(path: str, period: int, failures: int) -> Obj:
    return {
        "httpGet": {"path": path, "port": r.PROBE_PORT_NAME, "scheme": "HTTP"},
        "periodSeconds": period,
        "timeoutSeconds": 2,
        "failureThreshold": failures,
    }


def _volume_mounts(md: ModelDeploymentView) -> list[Obj]:
    mounts: list[Obj] = [{"name": TMP_VOLUME, "mountPath": "/tmp"}]
    claim = _bundle_claim(md)
    if claim is not None:
        mounts.append({"name": BUNDLE_VOLUME, "mountPath": f"{BUNDLE_MOUNT}/{claim}",
                       "readOnly": True})
    return mounts


def _volumes(md: ModelDeploymentView) -> list[Obj]:
    volumes: list[Obj] = [{"name": TMP_VOLUME, "emptyDir": {"sizeLimit": TMP_SIZE_LIMIT}}]
    claim = _bundle_claim(md)
    if claim is not None:
        volumes.append({"name": BUNDLE_VOLUME,
                        "persistentVolumeClaim": {"claimName": claim, "readOnly": True}})
    return volumes


PRE_STOP_SECONDS: Final = 5


def _container(md: ModelDeploymentView, track: str, allow_sidecar_digest: bool) -> Obj:
    return {
        "name": r.CONTAINER_NAME,
        "image": md.serving.image,
        "imagePullPolicy": md.serving.image_pull_policy,
        "ports": [{"name": r.PORT_NAME, "containerPort": r.SERVER_PORT, "protocol": "TCP"},
                  {"name": r.PROBE_PORT_NAME, "containerPort": DEFAULT_PROBE_PORT,
                   "protocol": "TCP"}],
        "envFrom": [{"configMapRef": {"name": r.configmap_name(md.name)}}],
        "env": _model_env(md, track, allow_sidecar_digest),
        # Loading a large bundle can be slow; the startup probe keeps liveness out of it.
        # The probes' own process answers them: a heavy request cannot delay the answer.
        "startupProbe": _probe("/healthz", period=2, failures=90),
        "livenessProbe": _probe("/healthz", period=10, failures=3),
        "readinessProbe": _probe("/readyz", period=5, failures=2),
        # A deleted pod leaves the Service's endpoints only as fast as every node's
        # kube-proxy hears of it; serving on for a few seconds after deletion means no
        # connection is refused meanwhile (seen on the real node during promotions).
        "lifecycle": {"preStop": {"sleep": {"seconds": PRE_STOP_SECONDS}}},
        "resources": md.serving.resources,
        "securityContext": restricted_container_security(),
        "volumeMounts": _volume_mounts(md),
    }


def build_deployment(md: ModelDeploymentView, configmap: Obj, track: str = TRACK_STABLE,
                     *, allow_sidecar_digest: bool = False) -> Obj:
    """The model server pods of one track, serving md.model."""
    pod_labels = {**labels(md, track), r.LABEL_VERSION: md.model.version}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            **_metadata(md, r.deployment_name(md.name, track), track),
            "annotations": {r.ANNOTATION_MODEL_URI: md.model.uri},
        },
        "spec": {
            "replicas": md.serving.replicas,
            # Set, not left out: a rollout paused by hand is resumed, so a paused child
            # never silently blocks the next model (docs/operator.md, "Hand edits").
            "paused": False,
            "revisionHistoryLimit": 3,
            "selector": {"matchLabels": selector(md, track)},
            # Never fewer ready pods than asked for while a new version rolls in.
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
            },
            "template": {
                "metadata": {
                    "labels": pod_labels,
                    "annotations": {
                        **PROMETHEUS_ANNOTATIONS,
                        r.ANNOTATION_CONFIG_HASH: config_hash(configmap),
                        r.ANNOTATION_MODEL_URI: md.model.uri,
                    },
                },
                "spec": {
                    "serviceAccountName": r.service_account_name(md.name),
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "terminationGracePeriodSeconds": 30,
                    "securityContext": restricted_pod_security(),
                    "containers": [_container(md, track, allow_sidecar_digest)],
                    "volumes": _volumes(md),
                },
            },
        },
    }


def build_serving(md: ModelDeploymentView, *, allow_sidecar_digest: bool = False) -> list[Obj]:
    """The serving objects md owns, in the order to apply them (dependencies first)."""
    configmap = build_configmap(md)
    return [
        build_service_account(md),
        configmap,
        build_service(md),
        build_deployment(md, configmap, allow_sidecar_digest=allow_sidecar_digest),
    ]
