from __future__ import annotations

from typing import Any

from vigia_operator.children.job import build_job, output_uri
from vigia_operator.core import resources as r
from vigia_operator.view import parse
from vigia_operator.view.policy import store_uri
from vigia_operator.view.retraining import parse_retraining

from tests.unit.operator.schema import defaulted_sample
from vigia.costs import CostTable
from vigia.retraining import ExitCode
from vigia.settings import RetrainSettings, retrain_env_name

NAME = "sobaos-drift-202611231900"


def _job(**overrides: Any) -> dict[str, Any]:
    body = defaulted_sample(**overrides)
    spec = parse_retraining(body)
    assert spec is not None
    return build_job(parse(body), spec, NAME, "Drift", "2")


def _pod(job: dict[str, Any]) -> dict[str, Any]:
    return dict(job["spec"]["template"]["spec"])


def _env(job: dict[str, Any]) -> dict[str, Any]:
    (container,) = _pod(job)["containers"]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def test_job_runs_vigia_retrain_owned_and_labelled() -> None:
    job = _job()
    meta = job["metadata"]
    assert (job["apiVersion"], job["kind"], meta["name"], meta["namespace"]) == (
        "batch/v1", "Job", NAME, "ml")
    (owner,) = meta["ownerReferences"]
    assert owner["kind"] == r.KIND and owner["controller"] and owner["uid"].startswith("0b7c")
    assert meta["labels"][r.LABEL_OWNER] == "sobaos"
    assert meta["labels"][r.LABEL_MANAGED_BY] == r.MANAGED_BY
    (container,) = _pod(job)["containers"]
    assert container["command"] == ["vigia-retrain"]
    assert container["image"] == job_image_default()
    assert container["terminationMessagePolicy"] == "FallbackToLogsOnError"
    # The job's pods are not the server's: the Service must not select them.
    assert _pod(job)["restartPolicy"] == "Never"
    assert job["spec"]["template"]["metadata"]["labels"][r.LABEL_NAME] != r.SERVER_APP


def job_image_default() -> str:
    return str(defaulted_sample()["spec"]["serving"]["image"])


def test_job_is_restricted_and_bounded() -> None:
    job = _job(spec__retraining__job={"activeDeadlineSeconds": 900, "backoffLimit": 2,
                                      "resources": {"limits": {"cpu": 2, "memory": "2Gi"}}})
    pod = _pod(job)
    (container,) = pod["containers"]
    security = container["securityContext"]
    assert security["runAsNonRoot"] and security["readOnlyRootFilesystem"]
    assert not security["allowPrivilegeEscalation"] and security["capabilities"] == {
        "drop": ["ALL"]}
    assert pod["automountServiceAccountToken"] is False
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
    assert _env(job)[retrain_env_name("home")] == "/tmp/vigia"
    assert container["resources"] == {"limits": {"cpu": 2, "memory": "2Gi"}}
    assert (job["spec"]["activeDeadlineSeconds"], job["spec"]["backoffLimit"]) == (900, 2)


def test_final_refusals_fail_the_job_at_once() -> None:
    rules = _job()["spec"]["podFailurePolicy"]["rules"]
    fail = next(rule for rule in rules if rule["action"] == "FailJob")
    assert fail["onExitCodes"]["operator"] == "In"
    assert set(fail["onExitCodes"]["values"]) == {ExitCode.INVALID_INPUT, ExitCode.REFUSED}
    assert ExitCode.FAILED not in fail["onExitCodes"]["values"]  # may be transient: retried


def test_env_is_the_job_settings_contract() -> None:
    env = _env(_job(spec__model__digest="sha256:" + "a" * 64,
                    spec__serving__predictionLog__storeSecretRef={"name": "db", "key": "url"},
                    spec__retraining__gate={"minImprovement": 0.02, "fairness": {
                        "sensitiveFeatures": ["shift", "line"], "maxParityDifference": 0.05}}))
    known = {retrain_env_name(f) for f in RetrainSettings.model_fields}
    assert set(env) <= known  # every variable is one the job reads
    assert env[retrain_env_name("dataset_uri")] == "file:///data/sobaos/train.csv"
    assert env[retrain_env_name("target")] == "quality"
    assert env[retrain_env_name("model_uri")] == "file:///models/sobaos/1"
    assert env[retrain_env_name("model_digest")] == "sha256:" + "a" * 64
    assert env[retrain_env_name("output_uri")] == "file:///models/sobaos"
    assert env[retrain_env_name("candidate_version")] == "2"  # the next version, not the Job
    assert env[retrain_env_name("feedback_model")] == "sobaos"
    assert env[retrain_env_name("feedback_namespace")] == "ml"
    assert env[retrain_env_name("min_improvement")] == "0.02"
    assert env[retrain_env_name("max_parity_difference")] == "0.05"
    assert env[retrain_env_name("sensitive_features")] == "shift,line"
    # The only credential: the prediction log's Secret, by reference.
    assert env[retrain_env_name("store_url")] == {
        "secretKeyRef": {"name": "db", "key": "url"}}
    settings = RetrainSettings.model_validate(
        {k.removeprefix("VIGIA_RETRAIN_").lower(): v for k, v in env.items()
         if isinstance(v, str)})
    assert settings.sensitive_features == ["shift", "line"]


def test_spec_export_onnx_reaches_the_job() -> None:
    assert _env(_job())[retrain_env_name("export_onnx")] == "false"
    env = _env(_job(spec__export={"onnx": True}))
    assert env[retrain_env_name("export_onnx")] == "true"
    settings = RetrainSettings.model_validate(
        {k.removeprefix("VIGIA_RETRAIN_").lower(): v for k, v in env.items()
         if isinstance(v, str)})
    assert settings.export_onnx is True


def test_pvc_bundle_claim_is_mounted_read_write() -> None:
    job = _job(spec__model__uri="pvc://models/sobaos/v1.bentomodel")
    pod = _pod(job)
    (container,) = pod["containers"]
    claim = next(v for v in pod["volumes"] if "persistentVolumeClaim" in v)
    assert claim["persistentVolumeClaim"] == {"claimName": "models"}
    mount = next(m for m in container["volumeMounts"] if m["name"] == claim["name"])
    assert not mount.get("readOnly")
    env = _env(job)
    assert env[retrain_env_name("model_uri")] == (
        "file:///var/run/vigia/bundles/models/sobaos/v1.bentomodel")
    assert env[retrain_env_name("output_uri")] == "file:///var/run/vigia/bundles/models/sobaos"


def _mounted(pod: dict[str, Any]) -> dict[str, tuple[str, bool]]:
    """mount path -> (claim, read-only) of every claim the container mounts."""
    claims = {v["name"]: v["persistentVolumeClaim"]["claimName"] for v in pod["volumes"]
              if "persistentVolumeClaim" in v}
    (container,) = pod["containers"]
    return {m["mountPath"]: (claims[m["name"]], bool(m.get("readOnly")))
            for m in container["volumeMounts"] if m["name"] in claims}


def test_the_dataset_s_claim_is_mounted_read_only_once_or_beside() -> None:
    same = _job(spec__model__uri="pvc://models/sobaos/1",
                spec__retraining__dataset={"uri": "pvc://models/sobaos/train.csv",
                                           "target": "quality"})
    assert [v["persistentVolumeClaim"]["claimName"] for v in _pod(same)["volumes"]
            if "persistentVolumeClaim" in v] == ["models"]
    assert _env(same)[retrain_env_name("dataset_uri")] == (
        "file:///var/run/vigia/datasets/models/sobaos/train.csv")
    # One volume, twice: written beside the bundle, the dataset read-only.
    assert _mounted(_pod(same)) == {"/var/run/vigia/bundles/models": ("models", False),
                                    "/var/run/vigia/datasets/models": ("models", True)}
    other = _pod(_job(spec__model__uri="pvc://models/sobaos/1",
                      spec__retraining__dataset={"uri": "pvc://datasets/sobaos.csv",
                                                 "target": "quality"}))
    assert _mounted(other) == {"/var/run/vigia/bundles/models": ("models", False),
                               "/var/run/vigia/datasets/datasets": ("datasets", True)}
    alone = _pod(_job(spec__retraining__dataset={"uri": "pvc://datasets/sobaos.csv",
                                                 "target": "quality"}))
    assert _mounted(alone) == {"/var/run/vigia/datasets/datasets": ("datasets", True)}


def test_uris_beside_the_bundle_and_back() -> None:
    assert output_uri("s3://bucket/models/iris-3.bentomodel") == "s3://bucket/models"
    assert store_uri("file:///var/run/vigia/bundles/models/sobaos/c.bentomodel") == (
        "pvc://models/sobaos/c.bentomodel")
    assert store_uri("s3://bucket/c.bentomodel") == "s3://bucket/c.bentomodel"


def test_error_costs_and_the_cost_limit_reach_the_job() -> None:
    costs = {"unit": "EUR per 1,000 cakes",
             "errors": [{"predicted": "good", "actual": "defective", "cost": 10}]}
    assert retrain_env_name("error_costs") not in _env(_job())
    env = _env(_job(spec__monitoring__costs=costs,
                    spec__retraining__gate={"maxCostIncrease": 0}))
    settings = RetrainSettings.model_validate(
        {k.removeprefix("VIGIA_RETRAIN_").lower(): v for k, v in env.items()
         if isinstance(v, str)})
    assert settings.max_cost_increase == 0.0
    assert settings.error_costs is not None
    table = CostTable.from_json(settings.error_costs)
    assert table.unit == "EUR per 1,000 cakes" and table.cost_of("defective", "good") == 10.0
    reported = _env(_job(spec__monitoring__costs=costs))
    assert retrain_env_name("error_costs") in reported
    assert retrain_env_name("max_cost_increase") not in reported
