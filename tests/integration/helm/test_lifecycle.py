"""helm install, helm test, helm upgrade with changed values the operator picks up, and helm
uninstall leaving only the CRD, on the session's cluster ($KUBECONFIG when set). The CRD is
the session's (crds.enabled=false: these releases share the cluster); its own lifecycle with
the chart is test_crd_lifecycle.py.

Where the operator's pod lands on a kwok fake node (the local cluster today), the operator
and the test scripts also run as local processes from the installed objects, under the
chart's ServiceAccounts (see harness.py); on a real node the in-cluster ones do the work.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from vigia_testbed.kube import KubectlError, kubectl, wait_for

from tests.fixtures.helm import CHART, helm, is_test_hook, one, template
from tests.integration.helm.harness import (
    MODEL_URI,
    LocalOperator,
    account_kubeconfig,
    get,
    model_deployment,
    operator_pod_is_fake,
    run_test_script,
)

pytestmark = pytest.mark.integration

RELEASE = "vigia"
OPERATOR = "vigia-operator"
SELECTOR = "app.kubernetes.io/instance=vigia,app.kubernetes.io/component=operator"
CRD = "modeldeployments.vigia.dev"
# What a release may leave behind in a namespace, checked empty after uninstall.
NAMESPACED_KINDS = ("deployments,statefulsets,replicasets,pods,services,configmaps,secrets,"
                    "serviceaccounts,roles,rolebindings,jobs,persistentvolumeclaims")


@pytest.fixture
def second_namespace(crds: Path) -> Iterator[str]:
    name = f"t-helm-second-{uuid.uuid4().hex[:6]}"
    kubectl(crds, "create", "namespace", name)
    try:
        yield name
    finally:
        kubectl(crds, "delete", "namespace", name, "--wait=false", "--ignore-not-found")


def install(kubeconfig: Path, namespace: str, *sets: str, command: str = "install") -> str:
    return helm(command, RELEASE, str(CHART), f"--namespace={namespace}", "--wait",
                "--timeout=4m", "--set=crds.enabled=false", "--set=store.postgresql.enabled=true",
                "--set=store.postgresql.persistence.enabled=false",
                f"--set=tests.sampleModel.uri={MODEL_URI}",
                *(f"--set={s}" for s in sets), kubeconfig=kubeconfig)


def md_ready(kubeconfig: Path, namespace: str, name: str) -> bool:
    md = get(kubeconfig, namespace, "md", name)
    conditions = {c["type"]: c["status"] for c in md.get("status", {}).get("conditions", [])}
    return conditions.get("Ready") == "True"


def apply(kubeconfig: Path, namespace: str, obj: dict[str, object]) -> None:
    kubectl(kubeconfig, "apply", "-n", namespace, "-f", "-", input=json.dumps(obj))


def leftovers(kubeconfig: Path, namespaces: tuple[str, ...]) -> list[str]:
    found = []
    for namespace in namespaces:
        found += kubectl(kubeconfig, "get", NAMESPACED_KINDS, "-n", namespace, "-o", "name",
                         "-l", f"app.kubernetes.io/instance={RELEASE}").split()
    found += kubectl(kubeconfig, "get", "clusterroles,clusterrolebindings", "-o", "name",
                     "-l", f"app.kubernetes.io/instance={RELEASE}",
                     "--field-selector", f"metadata.name={namespaces[0]}-{OPERATOR}").split()
    return found


def test_install_test_upgrade_uninstall(crds: Path, namespace: str, second_namespace: str,
                                        tmp_path: Path) -> None:
    kubeconfig = crds
    # Install, the operator watching only the release namespace.
    out = install(kubeconfig, namespace, f"operator.watchNamespaces={{{namespace}}}",
                  "operator.tickSeconds=30")
    notes = out[out.index("NOTES:"):]  # what to do next, for these values
    assert f"rollout status deployment/{OPERATOR}" in notes and "helm test vigia" in notes
    assert f"kubectl get md -n {namespace}" in notes and "Secret vigia-store" in notes
    assert "operator.prometheusUrl is empty" in notes
    deployment = get(kubeconfig, namespace, "deployment", OPERATOR)
    assert deployment["status"]["readyReplicas"] == 1
    assert get(kubeconfig, namespace, "statefulset", "vigia-postgresql")["status"][
        "readyReplicas"] == 1
    secret = get(kubeconfig, namespace, "secret", "vigia-store")
    assert secret["metadata"]["labels"]["vigia.dev/model-access"] == "true"
    fake = operator_pod_is_fake(kubeconfig, namespace, SELECTOR)

    operator_config = account_kubeconfig(kubeconfig, namespace, OPERATOR,
                                         tmp_path / "operator.kubeconfig")
    # The operator's one Secret permission: the store Secret the chart grants it, by name.
    kubectl(kubeconfig, "create", "secret", "generic", "other", "-n", namespace)
    assert kubectl(operator_config, "get", "secret", "vigia-store", "-n", namespace,
                   "-o", "jsonpath={.metadata.name}") == "vigia-store"
    with pytest.raises(KubectlError, match=r"(?i)forbidden"):
        kubectl(operator_config, "get", "secret", "other", "-n", namespace)
    operator = LocalOperator(deployment, operator_config, tmp_path / "operator-1.log")
    if fake:
        operator.start()
    try:
        # helm test: its hooks run (on kwok their Jobs complete without running) and go.
        out = helm("test", RELEASE, f"--namespace={namespace}", "--timeout=6m",
                   kubeconfig=kubeconfig, timeout=420)
        suite = dict(re.findall(r"TEST SUITE:\s+(\S+).*?Phase:\s+(\w+)", out, re.S))
        assert suite["vigia-test-operator-up"] == suite["vigia-test-model-ready"] == "Succeeded"
        assert set(suite.values()) == {"Succeeded"}, out
        wait_for(lambda: not kubectl(kubeconfig, "get", "jobs,configmaps,serviceaccounts",
                                     "-n", namespace, "-l",
                                     "app.kubernetes.io/component=helm-test", "-o", "name"),
                 60, "test hooks deleted after success")
        if fake:
            run_hook_scripts(kubeconfig, namespace, operator, tmp_path)

        # The operator works in its namespace and ignores the other one.
        apply(kubeconfig, second_namespace, model_deployment("elsewhere"))
        apply(kubeconfig, namespace, model_deployment("here"))
        wait_for(lambda: md_ready(kubeconfig, namespace, "here"), 120, "md here Ready")
        assert "status" not in get(kubeconfig, second_namespace, "md", "elsewhere")
    finally:
        operator.stop()
    assert "is forbidden" not in operator.log(), operator.log()[-3000:]

    # Upgrade: watch the second namespace too. The Deployment rolls a new pod with the new
    # flags; the RBAC follows; the operator started from it reconciles there.
    before = get(kubeconfig, namespace, "deployment", OPERATOR)
    install(kubeconfig, namespace, f"operator.watchNamespaces={{{namespace},{second_namespace}}}",
            "operator.tickSeconds=30", command="upgrade")
    after = get(kubeconfig, namespace, "deployment", OPERATOR)
    assert after["metadata"]["generation"] > before["metadata"]["generation"]
    assert after["status"]["updatedReplicas"] == after["status"]["readyReplicas"] == 1
    args = after["spec"]["template"]["spec"]["containers"][0]["args"]
    assert f"--namespace={second_namespace}" in args
    env = {e["name"]: e.get("value") for e in
           after["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["VIGIA_OPERATOR_NAMESPACES"] == f"{namespace},{second_namespace}"
    # The store password survived the upgrade.
    assert get(kubeconfig, namespace, "secret", "vigia-store")["data"] == secret["data"]
    get(kubeconfig, second_namespace, "role", OPERATOR)
    upgraded = LocalOperator(after, operator_config, tmp_path / "operator-2.log")
    if operator_pod_is_fake(kubeconfig, namespace, SELECTOR):
        upgraded.start()
    try:
        wait_for(lambda: md_ready(kubeconfig, second_namespace, "elsewhere"), 120,
                 "md elsewhere Ready after the upgrade")
    finally:
        upgraded.stop()
    assert "is forbidden" not in upgraded.log(), upgraded.log()[-3000:]
    for ns, name in ((namespace, "here"), (second_namespace, "elsewhere")):
        kubectl(kubeconfig, "delete", "md", name, "-n", ns, "--wait=false")

    # Uninstall: nothing of the release is left, the CRD stays.
    helm("uninstall", RELEASE, f"--namespace={namespace}", "--wait", "--timeout=3m",
         kubeconfig=kubeconfig)
    wait_for(lambda: not leftovers(kubeconfig, (namespace, second_namespace)), 120,
             "nothing of the release left")
    kubectl(kubeconfig, "get", "crd", CRD)
    assert helm("list", f"--namespace={namespace}", "--all", "-q",
                kubeconfig=kubeconfig).strip() == ""


def run_hook_scripts(kubeconfig: Path, namespace: str, operator: LocalOperator,
                     tmp_path: Path) -> None:
    """The two helm test scripts, run here against the local operator: operator-up through
    its probe, model-ready as the test ServiceAccount with only the Role the chart gives it."""
    objects = template(namespace=namespace, release=RELEASE,
                       sets=[f"operator.watchNamespaces={{{namespace}}}",
                             f"tests.sampleModel.uri={MODEL_URI}"])
    hooks = [o for o in objects if is_test_hook(o) and o["kind"] != "Job"]
    kubectl(kubeconfig, "apply", "-n", namespace, "-f", "-", input=yaml.safe_dump_all(hooks))
    try:
        code, out = run_test_script(one(objects, "Job", "vigia-test-operator-up"),
                                    {"VIGIA_TEST_OPERATOR_URL": operator.health_url},
                                    tmp_path / "operator-up.log", 60)
        assert code == 0, out
        test_config = account_kubeconfig(kubeconfig, namespace, "vigia-test",
                                         tmp_path / "test.kubeconfig")
        code, out = run_test_script(one(objects, "Job", "vigia-test-model-ready"),
                                    {"KUBECONFIG": str(test_config),
                                     "VIGIA_TEST_TIMEOUT_SECONDS": "120"},
                                    tmp_path / "model-ready.log", 180)
        assert code == 0, out
        assert "Ready, serving version" in out
        # It cleaned up after itself.
        assert not kubectl(kubeconfig, "get", "md", "-n", namespace, "-o", "name",
                           "-l", "app.kubernetes.io/component=helm-test")
    finally:
        kubectl(kubeconfig, "delete", "-n", namespace, "-f", "-", "--ignore-not-found",
                input=yaml.safe_dump_all(hooks))


def test_cluster_wide_install_and_uninstall(crds: Path, namespace: str, tmp_path: Path) -> None:
    """The default install: a ClusterRole (named after the release namespace) that lets the
    operator work in any namespace, removed by uninstall."""
    kubeconfig = crds
    helm("install", RELEASE, str(CHART), f"--namespace={namespace}", "--wait", "--timeout=3m",
         "--set=crds.enabled=false", kubeconfig=kubeconfig)
    role = f"{namespace}-{OPERATOR}"
    kubectl(kubeconfig, "get", "clusterrole", role)
    binding = json.loads(kubectl(kubeconfig, "get", "clusterrolebinding", role, "-o", "json"))
    assert binding["subjects"][0] == {"kind": "ServiceAccount", "name": OPERATOR,
                                      "namespace": namespace}
    deployment = get(kubeconfig, namespace, "deployment", OPERATOR)
    if operator_pod_is_fake(kubeconfig, namespace, SELECTOR):
        # Confined to this test's namespace so as not to touch other sessions' objects; the
        # permissions are the ClusterRole's.
        spec = deployment["spec"]["template"]["spec"]["containers"][0]
        spec["args"] = [*spec["args"], f"--namespace={namespace}"]
        operator = LocalOperator(
            deployment, account_kubeconfig(kubeconfig, namespace, OPERATOR,
                                           tmp_path / "operator.kubeconfig"),
            tmp_path / "operator.log")
        operator.start()
        try:
            apply(kubeconfig, namespace, model_deployment("anywhere"))
            wait_for(lambda: md_ready(kubeconfig, namespace, "anywhere"), 120, "md Ready")
        finally:
            operator.stop()
        assert "is forbidden" not in operator.log(), operator.log()[-3000:]
        kubectl(kubeconfig, "delete", "md", "anywhere", "-n", namespace, "--wait=false")
    helm("uninstall", RELEASE, f"--namespace={namespace}", "--wait", "--timeout=3m",
         kubeconfig=kubeconfig)
    wait_for(lambda: not leftovers(kubeconfig, (namespace,)), 120, "nothing of the release left")
