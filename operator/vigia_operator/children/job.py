"""The retraining Job (pure): `vigia-retrain` in the project image, as a plain dict.

Restricted like the server (non-root, read-only root filesystem, /tmp an emptyDir), only
the model's store credential (the prediction log's Secret, policy-checked by the engine),
and a podFailurePolicy that ends the Job at once on the job's final refusals (exit codes
2 and 3): retrying the same inputs cannot change them. The result is read from the
container's termination message (``vigia.retraining.parse_result``).
"""

from __future__ import annotations

from typing import Any, Final

from vigia.retraining import ExitCode
from vigia.settings import retrain_env_name
from vigia_operator.children.serving import (
    BUNDLE_VOLUME,
    TMP_SIZE_LIMIT,
    TMP_VOLUME,
    owner_reference,
    restricted_container_security,
    restricted_pod_security,
)
from vigia_operator.core import resources as r
from vigia_operator.view import ModelDeploymentView
from vigia_operator.view.policy import (
    BUNDLE_MOUNT,
    DATASET_MOUNT,
    PVC_SCHEME,
    pvc_location,
    server_uri,
)
from vigia_operator.view.retraining import RetrainingSpec

Obj = dict[str, Any]

JOB_COMMAND: Final = ("vigia-retrain",)
JOB_HOME: Final = "/tmp/vigia"
COMPONENT: Final = "retraining"
LABEL_TRIGGER: Final = f"{r.GROUP}/retrain-trigger"
# Finished Jobs (and their pods, which hold the result) stay a day for `kubectl logs`.
TTL_SECONDS_AFTER_FINISHED: Final = 86400


def output_uri(model_uri: str) -> str:
    """Where the candidate goes: the directory of the current bundle."""
    scheme, sep, rest = model_uri.partition("://")
    parent = rest.rstrip("/").rpartition("/")[0]
    return f"{scheme}{sep}{parent}" if parent else model_uri



def labels(md: ModelDeploymentView, trigger: str) -> dict[str, str]:
    return {
        r.LABEL_NAME: "vigia-retrain",
        r.LABEL_INSTANCE: md.name,
        r.LABEL_COMPONENT: COMPONENT,
        r.LABEL_PART_OF: "vigia",
        r.LABEL_MANAGED_BY: r.MANAGED_BY,
        r.LABEL_OWNER: md.name,
        LABEL_TRIGGER: trigger,
    }


def job_env(md: ModelDeploymentView, spec: RetrainingSpec, version: str) -> list[Obj]:
    """The job's settings (``vigia.settings.RetrainSettings``) by their variable names."""
    values: dict[str, str] = {
        "dataset_uri": server_uri(spec.dataset_uri, DATASET_MOUNT),
        "target": spec.target,
        "model_uri": server_uri(md.model.uri),
        "output_uri": server_uri(output_uri(md.model.uri)),
        "candidate_version": version,
        "feedback_model": md.name,  # the server's model label (server_settings)
        "feedback_namespace": md.namespace,  # with feedback_model: the rows' owner
        "include_feedback": "true" if spec.include_feedback else "false",
        "min_improvement": repr(spec.gate.min_improvement),
        "max_parity_difference": repr(spec.gate.max_parity_difference),
        "sensitive_features": ",".join(spec.gate.sensitive_features),
        "export_onnx": "true" if spec.export_onnx else "false",
        "home": JOB_HOME,
    }
    if md.model.digest is not None:
        values["model_digest"] = md.model.digest
    costs = md.monitoring.costs
    if costs is not None:  # the candidate's cost is reported, and judged with a limit
        values["error_costs"] = costs.table.to_json()
        if spec.gate.max_cost_increase is not None:
            values["max_cost_increase"] = repr(spec.gate.max_cost_increase)
    env: list[Obj] = [{"name": retrain_env_name(k), "value": v} for k, v in values.items()]
    store = md.serving.store
    if store is not None:
        env.append({"name": retrain_env_name("store_url"),
                    "valueFrom": {"secretKeyRef": {"name": store.name, "key": store.key}}})
    return env


def _claim_of(uri: str) -> str | None:
    return pvc_location(uri)[0] if uri.startswith(f"{PVC_SCHEME}://") else None


def _volumes(md: ModelDeploymentView, spec: RetrainingSpec) -> tuple[list[Obj], list[Obj]]:
    """Volumes and mounts: /tmp; the model's claim read-write at BUNDLE_MOUNT/<claim> (the
    candidate is written beside the current bundle); the dataset's claim read-only at
    DATASET_MOUNT/<claim>, also when it is the model's (one volume, mounted twice), where
    ``server_uri`` says their pvc:// URIs are."""
    volumes: list[Obj] = [{"name": TMP_VOLUME, "emptyDir": {"sizeLimit": TMP_SIZE_LIMIT}}]
    mounts: list[Obj] = [{"name": TMP_VOLUME, "mountPath": "/tmp"}]
    by_claim: dict[str, str] = {}

    def volume_of(claim: str) -> str:
        if claim not in by_claim:
            by_claim[claim] = BUNDLE_VOLUME if not by_claim else f"{BUNDLE_VOLUME}-{len(by_claim)}"
            volumes.append({"name": by_claim[claim],
                            "persistentVolumeClaim": {"claimName": claim}})
        return by_claim[claim]

    model_claim, dataset_claim = _claim_of(md.model.uri), _claim_of(spec.dataset_uri)
    if model_claim is not None:
        mounts.append({"name": volume_of(model_claim),
                       "mountPath": f"{BUNDLE_MOUNT}/{model_claim}"})
    if dataset_claim is not None:
        mounts.append({"name": volume_of(dataset_claim),
                       "mountPath": f"{DATASET_MOUNT}/{dataset_claim}", "readOnly": True})
    return volumes, mounts


def _container(md: ModelDeploymentView, spec: RetrainingSpec, version: str,
               mounts: list[Obj]) -> Obj:
    return {
        "name": r.JOB_CONTAINER,
        "image": spec.job.image or md.serving.image,
        "imagePullPolicy": md.serving.image_pull_policy,
        "command": list(JOB_COMMAND),
        "env": job_env(md, spec, version),
        "resources": spec.job.resources,
        "terminationMessagePath": "/dev/termination-log",
        # The result is in the message; a crash before writing it leaves the log's tail.
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "securityContext": restricted_container_security(),
        "volumeMounts": mounts,
    }


def build_job(md: ModelDeploymentView, spec: RetrainingSpec, name: str, trigger: str,
              version: str) -> Obj:
    """The retraining Job ``name`` for ``md``, started by ``trigger``, whose candidate is
    ``version``."""
    volumes, mounts = _volumes(md, spec)
    final_codes = [int(ExitCode.INVALID_INPUT), int(ExitCode.REFUSED)]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": md.namespace,
            "labels": labels(md, trigger),
            "annotations": {r.ANNOTATION_MODEL_URI: md.model.uri},
            "ownerReferences": [owner_reference(md)],
        },
        "spec": {
            "activeDeadlineSeconds": spec.job.active_deadline_seconds,
            "backoffLimit": spec.job.backoff_limit,
            "ttlSecondsAfterFinished": TTL_SECONDS_AFTER_FINISHED,
            "podFailurePolicy": {"rules": [
                {"action": "FailJob", "onExitCodes": {
                    "containerName": r.JOB_CONTAINER, "operator": "In", "values": final_codes}},
                # An eviction or preemption is not the job's fault: not counted.
                {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]},
            ]},
            "template": {
                "metadata": {"labels": labels(md, trigger)},
                "spec": {
                    "restartPolicy": "Never",  # required by podFailurePolicy
                    "serviceAccountName": r.service_account_name(md.name),
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "securityContext": restricted_pod_security(),
                    "containers": [_container(md, spec, version, mounts)],
                    "volumes": volumes,
                },
            },
        },
    }
