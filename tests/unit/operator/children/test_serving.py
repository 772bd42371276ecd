from __future__ import annotations

from typing import Any

from vigia_operator.children import build_children
from vigia_operator.children.serving import (
    build_configmap,
    build_deployment,
    build_service,
    build_service_account,
)
from vigia_operator.core import resources as r
from vigia_operator.view import parse

from tests.unit.operator.schema import defaulted_sample
from vigia.settings import env_name

MD = parse(defaulted_sample())


def _deployment(**overrides: Any) -> dict[str, Any]:
    md = parse(defaulted_sample(**overrides)) if overrides else MD
    return build_deployment(md, build_configmap(md))


def _container(deployment: dict[str, Any]) -> dict[str, Any]:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return dict(container)


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def test_children_are_owned_and_labelled() -> None:
    children = build_children(MD)
    assert [c["kind"] for c in children] == ["ServiceAccount", "ConfigMap", "Service", "Deployment"]
    for child in children:
        meta = child["metadata"]
        assert meta["namespace"] == "ml"
        (owner,) = meta["ownerReferences"]
        assert owner == {"apiVersion": "vigia.dev/v1alpha1", "kind": "ModelDeployment",
                         "name": "sobaos", "uid": MD.uid, "controller": True,
                         "blockOwnerDeletion": True}
        assert meta["labels"][r.LABEL_OWNER] == "sobaos"
        assert meta["labels"][r.LABEL_MANAGED_BY] == r.MANAGED_BY
    assert len({(c["kind"], c["metadata"]["name"]) for c in children}) == 4


def test_pod_security_is_restricted() -> None:
    deployment = _deployment()
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    context = _container(deployment)["securityContext"]
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}
    assert context["runAsUser"] != 0
    # A read-only root needs a writable /tmp for the model store and the SQLite log.
    assert {"name": "tmp", "mountPath": "/tmp"} in _container(deployment)["volumeMounts"]
    assert any(v["name"] == "tmp" and "emptyDir" in v for v in pod["volumes"])


def test_probes_resources_and_scrape_annotations() -> None:
    deployment = _deployment()
    container = _container(deployment)
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    # Answered by the probes' own process (vigia_serving.probes), on the port it is told.
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert ports[container[probe]["httpGet"]["port"]] == 3001
    assert _env(container)[env_name("probe_port")] == "3001"
    # Serves on after deletion until kube-proxy has dropped the endpoint, within the grace.
    sleep = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert 0 < sleep < deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert container["ports"][0]["containerPort"] == 3000
    assert container["resources"] == {"requests": {"cpu": "250m", "memory": "512Mi"},
                                      "limits": {"memory": "1Gi"}}
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == "3000"
    assert annotations["prometheus.io/path"] == "/metrics"


def test_model_settings_use_the_shared_names() -> None:
    env = _env(_container(_deployment(spec__model__digest="sha256:" + "b" * 64)))
    assert env[env_name("model_uri")] == "file:///models/sobaos/1"
    assert env[env_name("model_digest")] == "sha256:" + "b" * 64
    assert env[env_name("track")] == "stable"
    config = build_configmap(MD)["data"]
    assert config[env_name("model_name")] == "sobaos"
    assert config[env_name("home")].startswith("/tmp/")
    assert _container(_deployment())["envFrom"] == [
        {"configMapRef": {"name": build_configmap(MD)["metadata"]["name"]}}
    ]


def test_batching_reaches_the_server_settings() -> None:
    sample = defaulted_sample()
    sample["spec"]["serving"]["batching"] = {"maxBatchSize": 64, "maxLatencyMs": 5}
    config = build_configmap(parse(sample))["data"]
    assert config[env_name("batch_max_rows")] == "64"
    assert config[env_name("batch_wait_ms")] == "5"
    defaults = build_configmap(MD)["data"]
    assert defaults[env_name("batch_max_rows")] == "128"
    assert defaults[env_name("batch_wait_ms")] == "0"


def test_segments_reach_the_server_settings_only_when_asked_for() -> None:
    sample = defaulted_sample()
    sample["spec"]["monitoring"]["segments"] = ["flour_supplier", "shift"]
    config = build_configmap(parse(sample))["data"]
    assert config[env_name("segments")] == "flour_supplier,shift"
    assert env_name("segments") not in build_configmap(MD)["data"]


def test_no_digest_no_digest_variable() -> None:
    assert env_name("model_digest") not in _env(_container(_deployment()))


def test_store_url_comes_from_the_secret() -> None:
    sample = defaulted_sample()
    sample["spec"]["serving"]["predictionLog"]["storeSecretRef"] = {"name": "pg", "key": "url"}
    md = parse(sample)
    env = _env(_container(build_deployment(md, build_configmap(md))))
    assert env[env_name("store_url")] == {"secretKeyRef": {"name": "pg", "key": "url"}}


def test_settings_change_rolls_the_pods() -> None:
    before = _deployment()["spec"]["template"]["metadata"]["annotations"]
    sample = defaulted_sample()
    sample["spec"]["serving"]["maxRequestRows"] = 50
    md = parse(sample)
    after = build_deployment(md, build_configmap(md))["spec"]["template"]["metadata"]
    assert after["annotations"][r.ANNOTATION_CONFIG_HASH] != before[r.ANNOTATION_CONFIG_HASH]


def test_selectors() -> None:
    deployment = _deployment()
    match = deployment["spec"]["selector"]["matchLabels"]
    assert match[r.LABEL_TRACK] == "stable"
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert match.items() <= pod_labels.items()
    assert pod_labels[r.LABEL_VERSION] == "1"
    # The Service spans both tracks (the Replicas router weighs by replica counts).
    service = build_service(MD)
    assert r.LABEL_TRACK not in service["spec"]["selector"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert service["spec"]["ports"][0]["targetPort"] == "http"


def test_service_account_has_no_token() -> None:
    account = build_service_account(MD)
    assert account["automountServiceAccountToken"] is False
    assert _deployment()["spec"]["template"]["spec"]["serviceAccountName"] == (
        account["metadata"]["name"]
    )


def test_builders_are_pure() -> None:
    assert build_children(MD) == build_children(MD)


def test_a_paused_rollout_is_resumed() -> None:
    deployment = build_deployment(MD, build_configmap(MD))
    assert deployment["spec"]["paused"] is False


def test_pvc_bundle_is_mounted_read_only_and_served_as_a_file() -> None:
    md = parse(defaulted_sample(spec__model={"uri": "pvc://bundles/iris/v2.bentomodel"}))
    pod = build_deployment(md, build_configmap(md))["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env[env_name("model_uri")] == "file:///var/run/vigia/bundles/bundles/iris/v2.bentomodel"
    mount = next(m for m in container["volumeMounts"] if m["name"] == "bundles")
    assert mount == {"name": "bundles", "mountPath": "/var/run/vigia/bundles/bundles",
                     "readOnly": True}
    volume = next(v for v in pod["volumes"] if v["name"] == "bundles")
    assert volume["persistentVolumeClaim"] == {"claimName": "bundles", "readOnly": True}
    # The resource's URI stays the one compared and reported.
    template = build_deployment(md, build_configmap(md))["spec"]["template"]
    assert template["metadata"]["annotations"]["vigia.dev/model-uri"] == md.model.uri


def test_sidecar_digests_reach_the_server_only_when_allowed() -> None:
    def env(allow_sidecar_digest: bool = False) -> dict[str, str]:
        deployment = build_deployment(MD, build_configmap(MD),
                                      allow_sidecar_digest=allow_sidecar_digest)
        return {e["name"]: e.get("value", "")
                for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}

    assert env_name("allow_sidecar_digest") not in env()
    assert env(allow_sidecar_digest=True)[env_name("allow_sidecar_digest")] == "true"


def test_runtime_reaches_the_server() -> None:
    sample = defaulted_sample()
    sample["spec"]["serving"]["runtime"] = "onnx"
    assert build_configmap(parse(sample))["data"][env_name("runtime")] == "onnx"
    assert build_configmap(MD)["data"][env_name("runtime")] == "sklearn"


def test_the_browser_page_is_off_unless_the_spec_enables_it() -> None:
    assert defaulted_sample()["spec"]["serving"]["browserPage"] == {"enabled": False}
    assert env_name("browser_page") not in build_configmap(MD)["data"]
    sample = defaulted_sample()
    sample["spec"]["serving"]["browserPage"] = {"enabled": True}
    assert build_configmap(parse(sample))["data"][env_name("browser_page")] == "true"


def test_telemetry_is_off_unless_the_spec_enables_it() -> None:
    assert defaulted_sample()["spec"]["serving"]["telemetry"] == {"enabled": False}
    assert env_name("telemetry") not in build_configmap(MD)["data"]
    sample = defaulted_sample()
    sample["spec"]["serving"]["telemetry"] = {"enabled": True}
    assert build_configmap(parse(sample))["data"][env_name("telemetry")] == "true"
