"""`helm template` and `helm lint` over every values scenario in charts/vigia/ci/, and what
each scenario must render."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from tests.fixtures.helm import (
    CHART,
    ROOT,
    SCENARIOS,
    HelmError,
    Obj,
    container,
    env_of,
    find,
    helm,
    is_test_hook,
    kube_version,
    load_yaml,
    names,
    one,
    template,
)

MANIFEST_RULES = load_yaml(ROOT / "manifests/rbac/cluster_role.yaml")["rules"]
MANIFEST_DEPLOYMENT = load_yaml(ROOT / "manifests/manager/deployment.yaml")
NAMESPACE = "vigia-system"
OPERATOR = "vigia-operator"
# The chart's grant of its own store Secret to the operator (templates/postgresql.yaml).
SECRET_GRANT = "vigia-operator-secrets"


def scenario(name: str) -> Path:
    return CHART / "ci" / f"{name}-values.yaml"


@pytest.fixture(scope="module", params=[s.name for s in SCENARIOS])
def rendered(request: pytest.FixtureRequest) -> tuple[str, list[Obj]]:
    return request.param, template([CHART / "ci" / request.param])


@pytest.mark.parametrize("values", SCENARIOS, ids=lambda p: p.name)
def test_lint_is_clean(values: Path) -> None:
    out = helm("lint", str(CHART), "--strict", f"--values={values}",
               f"--kube-version={kube_version()}")
    assert "0 chart(s) failed" in out


def test_every_object_is_labelled_and_namespaced(rendered: tuple[str, list[Obj]]) -> None:
    _, objects = rendered
    cluster_scoped = {"ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"}
    for obj in objects:
        labels = obj["metadata"]["labels"]
        assert labels["app.kubernetes.io/instance"] == "vigia", obj["metadata"]["name"]
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        assert ("namespace" in obj["metadata"]) == (obj["kind"] not in cluster_scoped)


def test_rbac_rules_are_the_manifests(rendered: tuple[str, list[Obj]]) -> None:
    _, objects = rendered
    roles = [o for o in objects if o["kind"] in ("ClusterRole", "Role") and not is_test_hook(o)
             and o["metadata"]["name"] != SECRET_GRANT]  # test_in_cluster_postgresql_store
    assert roles
    for role in roles:
        assert role["rules"] == MANIFEST_RULES, role["metadata"]


def test_operator_runs_as_the_shipped_manifest(rendered: tuple[str, list[Obj]]) -> None:
    """Same strategy, security, probes and command as manifests/manager."""
    _, objects = rendered
    deployment = one(objects, "Deployment", OPERATOR)
    shipped = MANIFEST_DEPLOYMENT["spec"]
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == shipped["strategy"]
    pod, shipped_pod = deployment["spec"]["template"]["spec"], shipped["template"]["spec"]
    assert pod["securityContext"] == shipped_pod["securityContext"]
    ours, theirs = container(deployment), shipped_pod["containers"][0]
    for key in ("securityContext", "livenessProbe", "readinessProbe", "volumeMounts"):
        assert ours[key] == theirs[key], key
    assert ours["command"] + ours["args"][:1] == theirs["command"]
    assert pod["volumes"] == shipped_pod["volumes"]
    assert pod["serviceAccountName"] == OPERATOR
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_operator_configuration_defaults() -> None:
    objects = template([scenario("default")])
    operator = container(one(objects, "Deployment", OPERATOR))
    env = env_of(operator)
    assert operator["image"] == "docker.io/vigia/vigia:0.1.0"
    assert env["VIGIA_OPERATOR_ALLOWED_IMAGES"] == "docker.io/vigia/vigia"
    assert env["VIGIA_OPERATOR_ALLOWED_GATEWAYS"] == "{namespace}/*"
    assert env["VIGIA_OPERATOR_ALLOWED_HOSTNAMES"] == ""
    assert env["VIGIA_OPERATOR_SECRET_LABEL"] == "vigia.dev/model-access=true"
    assert env["VIGIA_OPERATOR_ALLOW_SIDECAR_DIGEST"] == "false"
    assert env["VIGIA_OPERATOR_TICK_SECONDS"] == "60"
    assert env["VIGIA_OPERATOR_NAMESPACES"] == ""
    for absent in ("VIGIA_OPERATOR_PROMETHEUS_URL", "VIGIA_OPERATOR_STORE_SECRET",
                   "VIGIA_OPERATOR_METRICS_PORT"):
        assert absent not in env
    assert operator["args"] == ["--liveness=http://0.0.0.0:8080/healthz"]
    role = one(objects, "ClusterRole")
    binding = one(objects, "ClusterRoleBinding")
    assert binding["roleRef"]["name"] == role["metadata"]["name"] == f"{NAMESPACE}-{OPERATOR}"
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": OPERATOR, "namespace": NAMESPACE}]
    assert not find(objects, "Role", OPERATOR) and not find(objects, "StatefulSet")


def test_watched_namespaces_get_roles_flags_and_settings() -> None:
    objects = template([scenario("watch-namespaces")])
    deployment = one(objects, "Deployment", OPERATOR)
    operator = container(deployment)
    env = env_of(operator)
    assert operator["image"] == "registry.example.com/ml/vigia:0.1.0-rc1"
    assert operator["args"] == ["--liveness=http://0.0.0.0:8080/healthz",
                                "--namespace=team-a", "--namespace=team-b", "--verbose"]
    assert env["VIGIA_OPERATOR_NAMESPACES"] == "team-a,team-b"
    assert env["VIGIA_OPERATOR_ALLOWED_IMAGES"] == \
        "registry.example.com/ml/vigia,docker.io/vigia/vigia"
    assert env["VIGIA_OPERATOR_ALLOWED_GATEWAYS"] == "{namespace}/*,infra/public"
    assert env["VIGIA_OPERATOR_ALLOWED_HOSTNAMES"] == "*.{namespace}.apps.example.com"
    assert env["VIGIA_OPERATOR_SECRET_LABEL"] == "example.com/vigia-store=allowed"
    assert env["VIGIA_OPERATOR_ALLOW_SIDECAR_DIGEST"] == "true"
    assert env["VIGIA_OPERATOR_TICK_SECONDS"] == "30"
    pod = deployment["spec"]["template"]["spec"]
    assert pod["imagePullSecrets"] == [{"name": "registry-credentials"}]
    assert pod["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert pod["tolerations"][0]["key"] == "dedicated"
    assert not find(objects, "ClusterRole") and not find(objects, "ClusterRoleBinding")
    roles = find(objects, "Role", OPERATOR)
    bindings = find(objects, "RoleBinding", OPERATOR)
    assert sorted(r["metadata"]["namespace"] for r in roles) == ["team-a", "team-b"]
    assert sorted(b["metadata"]["namespace"] for b in bindings) == ["team-a", "team-b"]
    assert all(b["subjects"][0]["namespace"] == NAMESPACE for b in bindings)
    # The scrape configuration looks only where the operator works.
    scrape = yaml.safe_load(one(objects, "ConfigMap", "vigia-prometheus")["data"]
                            ["scrape-configs.yaml"])
    assert scrape[0]["kubernetes_sd_configs"][0]["namespaces"]["names"] == ["team-a", "team-b"]
    # The helm test's sample goes where the operator looks.
    job = one(objects, "Job", "vigia-test-model-ready")
    assert env_of(job["spec"]["template"]["spec"]["containers"][0])[
        "VIGIA_TEST_NAMESPACE"] == "team-a"


def test_in_cluster_postgresql_store() -> None:
    objects = template([scenario("postgresql")])
    secret = one(objects, "Secret", "vigia-store")
    assert secret["metadata"]["labels"]["vigia.dev/model-access"] == "true"
    # The operator's only Secret permission: get on this one, by name, in its namespace.
    (rule,) = one(objects, "Role", SECRET_GRANT)["rules"]
    assert (rule["resources"], rule["resourceNames"], rule["verbs"]) == (
        ["secrets"], ["vigia-store"], ["get"])
    (subject,) = one(objects, "RoleBinding", SECRET_GRANT)["subjects"]
    assert (subject["name"], subject["namespace"]) == (OPERATOR, NAMESPACE)
    password = secret["stringData"]["password"]
    assert len(password) == 32
    assert secret["stringData"]["url"] == (
        f"postgresql+psycopg://vigia:{password}@vigia-postgresql.{NAMESPACE}.svc:5432/vigia")
    statefulset = one(objects, "StatefulSet", "vigia-postgresql")
    claim = statefulset["spec"]["volumeClaimTemplates"][0]
    assert claim["spec"]["resources"]["requests"]["storage"] == "1Gi"
    assert statefulset["spec"]["persistentVolumeClaimRetentionPolicy"]["whenDeleted"] == "Delete"
    postgres = container(statefulset)
    assert postgres["securityContext"]["readOnlyRootFilesystem"] is True
    assert one(objects, "Service", "vigia-postgresql")["spec"]["ports"][0]["port"] == 5432
    env = env_of(container(one(objects, "Deployment", OPERATOR)))
    assert env["VIGIA_OPERATOR_STORE_SECRET"] == f"{NAMESPACE}/vigia-store"
    assert env["VIGIA_OPERATOR_STORE_SECRET_KEY"] == "url"


def test_users_own_store_secret_wins_over_postgresql() -> None:
    objects = template([scenario("existing-secret")])
    assert not find(objects, "StatefulSet") and not find(objects, "Secret")
    env = env_of(container(one(objects, "Deployment", OPERATOR)))
    assert env["VIGIA_OPERATOR_STORE_SECRET"] == f"{NAMESPACE}/my-store"
    assert env["VIGIA_OPERATOR_STORE_SECRET_KEY"] == "database-url"


def test_prometheus_operator_objects_replace_the_scrape_config() -> None:
    objects = template([scenario("prometheus-operator")])
    monitor = one(objects, "PodMonitor")
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert monitor["spec"]["selector"]["matchLabels"] == {
        "app.kubernetes.io/name": "vigia-model-server"}
    assert monitor["spec"]["namespaceSelector"] == {"any": True}
    assert monitor["spec"]["podMetricsEndpoints"][0]["interval"] == "15s"
    service_monitor = one(objects, "ServiceMonitor", OPERATOR)
    assert service_monitor["spec"]["endpoints"][0]["port"] == "metrics"
    assert not find(objects, "ConfigMap", "vigia-prometheus")
    operator = container(one(objects, "Deployment", OPERATOR))
    env = env_of(operator)
    assert env["VIGIA_OPERATOR_PROMETHEUS_URL"] == \
        "http://prometheus-operated.monitoring.svc:9090"
    assert env["VIGIA_OPERATOR_METRICS_PORT"] == "9090"
    assert {"name": "metrics", "containerPort": 9090, "protocol": "TCP"} in operator["ports"]
    ports = one(objects, "Service", OPERATOR)["spec"]["ports"]
    assert [p["name"] for p in ports] == ["health", "metrics"]


def test_default_scrape_config_keeps_only_model_servers() -> None:
    objects = template([scenario("default")])
    scrape = yaml.safe_load(one(objects, "ConfigMap", "vigia-prometheus")["data"]
                            ["scrape-configs.yaml"])
    assert [job["job_name"] for job in scrape] == ["vigia-model-servers"]
    keep = scrape[0]["relabel_configs"][0]
    assert keep == {"source_labels": ["__meta_kubernetes_pod_label_app_kubernetes_io_name"],
                    "regex": "vigia-model-server", "action": "keep"}
    assert not find(objects, "PodMonitor") and not find(objects, "PrometheusRule")


def test_switches_off_render_nothing_for_monitoring() -> None:
    objects = template(sets=["prometheus.scrapeConfig.enabled=false",
                             "grafana.dashboards.enabled=false"])
    components = {o["metadata"]["labels"].get("app.kubernetes.io/component") for o in objects}
    assert "monitoring" not in components


@pytest.fixture(scope="module")
def chart_with_rules_and_dashboard(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The chart as it will be once manifests/prometheus holds rules and a dashboard."""
    chart = tmp_path_factory.mktemp("chart") / "vigia"
    shutil.copytree(CHART, chart)
    rules = chart / "files/prometheus/rules"
    rules.mkdir(parents=True, exist_ok=True)
    (rules / "vigia-drift.yaml").write_text(
        "groups:\n  - name: vigia-drift\n    rules:\n"
        "      - record: vigia:psi\n        expr: sum(vigia_feature_bin_total)\n")
    (chart / "files/grafana").mkdir(parents=True, exist_ok=True)
    (chart / "files/grafana/vigia_overview.json").write_text('{"title": "Vigía"}\n')
    return chart


def test_rule_files_become_prometheus_rules(chart_with_rules_and_dashboard: Path) -> None:
    objects = template([scenario("prometheus-operator")], chart=chart_with_rules_and_dashboard)
    rule = one(objects, "PrometheusRule", "vigia-vigia-drift")
    assert rule["spec"]["groups"][0]["rules"][0]["record"] == "vigia:psi"
    without = template([scenario("prometheus-operator")], ["prometheus.rules.enabled=false"],
                       chart=chart_with_rules_and_dashboard)
    assert not find(without, "PrometheusRule")


def test_rule_files_join_the_scrape_config(chart_with_rules_and_dashboard: Path) -> None:
    objects = template(chart=chart_with_rules_and_dashboard)
    data = one(objects, "ConfigMap", "vigia-prometheus")["data"]
    assert yaml.safe_load(data["vigia-drift.yaml"])["groups"][0]["name"] == "vigia-drift"


def test_dashboards_carry_the_sidecar_label(chart_with_rules_and_dashboard: Path) -> None:
    objects = template([scenario("prometheus-operator")], chart=chart_with_rules_and_dashboard)
    dashboard = one(objects, "ConfigMap", "vigia-dashboard-vigia-overview")
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert dashboard["metadata"]["annotations"] == {"grafana_folder": "Vigía"}
    assert dashboard["data"]["vigia_overview.json"].strip() == '{"title": "Vigía"}'


def test_no_rules_or_dashboards_until_their_sources_exist() -> None:
    """Until manifests/prometheus lands there is nothing to render, and nothing is."""
    has_sources = any((CHART / "files/prometheus/rules").glob("*.yaml"))
    objects = template([scenario("prometheus-operator")])
    assert bool(find(objects, "PrometheusRule")) == has_sources
    dashboards = [o for o in find(objects, "ConfigMap") if "dashboard" in o["metadata"]["name"]]
    assert bool(dashboards) == any((CHART / "files/grafana").glob("*.json"))


def test_test_hooks(rendered: tuple[str, list[Obj]]) -> None:
    _, objects = rendered
    hooks = [o for o in objects if is_test_hook(o)]
    assert sorted(names(hooks)) == sorted([
        "ConfigMap/vigia-test", "ServiceAccount/vigia-test", "Role/vigia-test",
        "RoleBinding/vigia-test", "Job/vigia-test-operator-up", "Job/vigia-test-model-ready"])
    for hook in hooks:
        annotations = hook["metadata"]["annotations"]
        assert annotations["helm.sh/hook-delete-policy"] == "before-hook-creation,hook-succeeded"
    scripts = one(hooks, "ConfigMap")["data"]
    assert set(scripts) == {"operator_up.py", "model_ready.py"}
    assert one(hooks, "Role")["rules"] == [{"apiGroups": ["vigia.dev"],
                                            "resources": ["modeldeployments"],
                                            "verbs": ["create", "get", "delete"]}]
    up = one(hooks, "Job", "vigia-test-operator-up")["spec"]["template"]["spec"]
    assert up["automountServiceAccountToken"] is False
    assert env_of(up["containers"][0])["VIGIA_TEST_OPERATOR_URL"] == \
        f"http://{OPERATOR}.{NAMESPACE}.svc:8080/healthz"
    ready = one(hooks, "Job", "vigia-test-model-ready")["spec"]["template"]["spec"]
    assert ready["serviceAccountName"] == "vigia-test"
    env = env_of(ready["containers"][0])
    assert env["VIGIA_TEST_MODEL_URI"] == "file:///models/sobaos/1"
    assert env["VIGIA_TEST_SERVING_IMAGE"] == container(one(objects, "Deployment"))["image"]


def test_names_follow_the_release() -> None:
    objects = template(release="ml")
    assert one(objects, "Deployment")["metadata"]["name"] == "ml-vigia-operator"
    objects = template(sets=["fullnameOverride=acme"], release="ml")
    assert one(objects, "Deployment")["metadata"]["name"] == "acme-operator"


def test_operator_settings_reach_the_environment() -> None:
    env = env_of(container(one(template(sets=["operator.concurrency=4"]), "Deployment")))
    assert env["VIGIA_OPERATOR_CONCURRENCY"] == "4"
    assert env["VIGIA_OPERATOR_LEADER_ELECTION"] == "false"
    assert env["VIGIA_OPERATOR_LEASE_NAMESPACE"] == NAMESPACE


def test_two_operators_need_leader_election() -> None:
    with pytest.raises(HelmError) as refused:
        template(sets=["operator.replicas=2"])
    assert "operator.replicas > 1 needs operator.leaderElection=true or operator.shards > 1" in (
        refused.value.stderr)


LEASE_RULES = [{"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
                "resourceNames": ["vigia-operator"], "verbs": ["get", "update"]},
               {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
                "verbs": ["create"]}]


def test_leader_election_adds_the_lease_role(tmp_path: Path) -> None:
    """With the engine's leader_election_role.yaml synced into the chart (a stand-in here)."""
    chart = tmp_path / "vigia"
    shutil.copytree(CHART, chart)
    (chart / "files/rbac/leader_election_role.yaml").write_text(yaml.safe_dump(
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
         "metadata": {"name": "vigia-operator-leader-election"}, "rules": LEASE_RULES}))
    objects = template(sets=["operator.leaderElection=true", "operator.replicas=2"],
                       chart=chart)
    deployment = one(objects, "Deployment", OPERATOR)
    assert deployment["spec"]["replicas"] == 2
    # The new pod is Ready before an old one goes; drains evict one at a time.
    assert deployment["spec"]["strategy"] == {
        "type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}
    budget = one(objects, "PodDisruptionBudget", OPERATOR)
    assert budget["spec"] == {"maxUnavailable": 1,
                              "selector": deployment["spec"]["selector"]}
    assert env_of(container(deployment))["VIGIA_OPERATOR_LEADER_ELECTION"] == "true"
    role = one(objects, "Role", "vigia-operator-leader-election")
    assert role["rules"] == LEASE_RULES and role["metadata"]["namespace"] == NAMESPACE
    binding = one(objects, "RoleBinding", "vigia-operator-leader-election")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": OPERATOR, "namespace": NAMESPACE}]
    one_pod = template(sets=["operator.leaderElection=true"], chart=chart)
    assert not find(one_pod, "PodDisruptionBudget")  # it would block every drain of its node
    if not (CHART / "files/rbac/leader_election_role.yaml").exists():
        with pytest.raises(HelmError, match=r"leader_election_role\.yaml is missing"):
            template(sets=["operator.leaderElection=true"])


def test_shards_add_the_shard_role_and_each_pods_identity() -> None:
    objects = template(sets=["operator.shards=12", "operator.replicas=3"])
    deployment = one(objects, "Deployment", OPERATOR)
    assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"
    env = container(deployment)["env"]
    assert env_of(container(deployment))["VIGIA_OPERATOR_SHARDS"] == "12"
    identity = next(e for e in env if e["name"] == "VIGIA_OPERATOR_IDENTITY")
    assert identity["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    role = one(objects, "Role", "vigia-operator-shards")
    assert role["rules"] == load_yaml(ROOT / "manifests/rbac/shards_role.yaml")["rules"]
    assert role["metadata"]["namespace"] == NAMESPACE
    assert one(objects, "RoleBinding", "vigia-operator-shards")["subjects"][0]["name"] == OPERATOR
    assert not find(template(), "Role", "vigia-operator-shards")  # one shard: no Role


CRD_SOURCE = load_yaml(ROOT / "manifests/crd/modeldeployments.vigia.dev.yaml")
KEEP = {"helm.sh/resource-policy": "keep"}


def test_crd_is_the_manifest_kept_by_uninstall() -> None:
    """A template (helm upgrade upgrades it), the manifest's schema, kept by uninstall."""
    crd = one(template(), "CustomResourceDefinition")
    assert crd["spec"] == CRD_SOURCE["spec"]
    assert crd["metadata"]["name"] == CRD_SOURCE["metadata"]["name"]
    assert CRD_SOURCE["metadata"]["labels"].items() <= crd["metadata"]["labels"].items()
    assert crd["metadata"]["annotations"] == KEEP
    assert "annotations" not in one(template(sets=["crds.keep=false"]),
                                    "CustomResourceDefinition")["metadata"]
    assert not find(template(sets=["crds.enabled=false"]), "CustomResourceDefinition")
    assert not (CHART / "crds").exists()  # Helm would install that copy once, never upgrade it


def test_crd_renders_with_values_from_before_the_crds_switch(tmp_path: Path) -> None:
    """`helm upgrade --reuse-values` from the previous release gives the templates its values,
    which have no `crds`: the CRD is still rendered and kept."""
    chart = tmp_path / "vigia"
    shutil.copytree(CHART, chart)
    values = load_yaml(chart / "values.yaml")
    del values["crds"]
    (chart / "values.yaml").write_text(yaml.safe_dump(values))
    crd = one(template(chart=chart), "CustomResourceDefinition")
    assert crd["metadata"]["annotations"] == KEEP
