"""The CRD's life with the chart, with the real helm on the session's cluster: `helm upgrade`
from the previous release's chart (whose CRD was in crds/, owned by no release) takes it
over, `helm uninstall` keeps it and every ModelDeployment and names it in its output.

The session's cluster already holds the CRD (the `crds` fixture, or on a CI cluster the
release its workflow installed), so the release here takes it over with --take-ownership,
as a user upgrading from the previous release does; its ownership labels and annotations are
put back afterwards.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from vigia_testbed.kube import kubectl, wait_for

from tests.fixtures.helm import CHART, ROOT, HelmError, helm
from tests.integration.helm.harness import get, model_deployment

pytestmark = pytest.mark.integration

RELEASE = "vigia"
CRD = "modeldeployments.vigia.dev"
# The previous release's chart: charts/vigia at beda4bf (identical to main before issue 22's
# chart work), packaged with `git archive beda4bf charts/vigia | tar -x -C DIR && helm
# package DIR/charts/vigia`. Its CRD is in crds/.
PREVIOUS_CHART = ROOT / "tests" / "fixtures" / "charts" / "vigia-0.1.0-beda4bf.tgz"
KEPT = ("These resources were kept due to the resource policy:\n"
        f"[CustomResourceDefinition] {CRD}")
OWNERSHIP = ("meta.helm.sh/release-name", "meta.helm.sh/release-namespace")
NAMESPACED_KINDS = "deployments,statefulsets,services,configmaps,secrets,serviceaccounts,roles"


def crd(kubeconfig: Path) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(kubectl(kubeconfig, "get", "crd", CRD, "-o", "json"))
    return result


def metadata_map(obj: dict[str, Any], key: str) -> dict[str, str]:
    return dict(obj["metadata"].get(key) or {})


@pytest.fixture
def crd_ownership_restored(crds: Path) -> Iterator[Path]:
    """The CRD's labels and annotations as they were before the test (so that whoever owned
    it before can still upgrade it)."""
    before = crd(crds)
    yield crds
    after = crd(crds)
    patch: dict[str, Any] = {"metadata": {}}
    for key in ("labels", "annotations"):
        old, new = metadata_map(before, key), metadata_map(after, key)
        patch["metadata"][key] = {k: old.get(k) for k in old.keys() | new.keys()}
    kubectl(crds, "patch", "crd", CRD, "--type=merge", "-p", json.dumps(patch))


def owned_by(kubeconfig: Path, namespace: str) -> dict[str, Any]:
    """The CRD, asserted to belong to the release in `namespace` and to be kept."""
    obj = crd(kubeconfig)
    annotations = metadata_map(obj, "annotations")
    assert [annotations.get(k) for k in OWNERSHIP] == [RELEASE, namespace], annotations
    assert annotations.get("helm.sh/resource-policy") == "keep"
    assert metadata_map(obj, "labels")["app.kubernetes.io/managed-by"] == "Helm"
    return obj


def uid(kubeconfig: Path, namespace: str, *what: str) -> str:
    return str(get(kubeconfig, namespace, *what)["metadata"]["uid"])


def uninstall_keeps_the_crd(kubeconfig: Path, namespace: str, md: str) -> None:
    """helm uninstall names the CRD as kept; it and the ModelDeployment `md` are still there
    (the same objects); nothing else of the release is."""
    crd_uid, md_uid = crd(kubeconfig)["metadata"]["uid"], uid(kubeconfig, namespace, "md", md)
    out = helm("uninstall", RELEASE, f"--namespace={namespace}", "--wait", "--timeout=3m",
               kubeconfig=kubeconfig)
    assert KEPT in out, out
    assert crd(kubeconfig)["metadata"]["uid"] == crd_uid
    assert uid(kubeconfig, namespace, "md", md) == md_uid
    wait_for(lambda: not kubectl(kubeconfig, "get", NAMESPACED_KINDS, "-n", namespace,
                                 "-o", "name", "-l", f"app.kubernetes.io/instance={RELEASE}"),
             120, "nothing else of the release left")


def test_uninstall_keeps_the_crd_and_every_model_deployment_and_says_so(
        crd_ownership_restored: Path, namespace: str) -> None:
    kubeconfig = crd_ownership_restored
    out = helm("install", RELEASE, str(CHART), f"--namespace={namespace}", "--take-ownership",
               "--wait", "--timeout=3m", "--set=tests.sampleModel.enabled=false",
               kubeconfig=kubeconfig)
    # NOTES: what was installed, what was not, and how to deploy the sample.
    notes = out[out.index("NOTES:"):]
    for said in (f"CRD {CRD} (helm uninstall keeps it, and every ModelDeployment)",
                 "Deployment vigia-operator",
                 "ConfigMap vigia-prometheus: scrape jobs and rule files for your Prometheus",
                 "Grafana dashboards as ConfigMaps labelled grafana_dashboard=1",
                 "Not installed: no Prometheus and no Grafana",
                 "vigia sample bundle --out sobaos.bentomodel",
                 f"kubectl apply -n {namespace} -f -", "kind: ModelDeployment"):
        assert said in notes, notes
    owned_by(kubeconfig, namespace)
    kubectl(kubeconfig, "apply", "-n", namespace, "-f", "-",
            input=json.dumps(model_deployment("kept")))
    uninstall_keeps_the_crd(kubeconfig, namespace, "kept")
    # A new install in the same namespace takes the kept CRD back without being asked.
    helm("install", RELEASE, str(CHART), f"--namespace={namespace}", "--wait", "--timeout=3m",
         "--set=tests.sampleModel.enabled=false", kubeconfig=kubeconfig)
    crd_uid = owned_by(kubeconfig, namespace)["metadata"]["uid"]
    # Turning crds.enabled off takes the CRD out of the release and keeps it too.
    helm("upgrade", RELEASE, str(CHART), f"--namespace={namespace}", "--reuse-values",
         "--set=crds.enabled=false", "--wait", "--timeout=3m", kubeconfig=kubeconfig)
    assert "kind: CustomResourceDefinition" not in helm(
        "get", "manifest", RELEASE, f"--namespace={namespace}", kubeconfig=kubeconfig)
    assert crd(kubeconfig)["metadata"]["uid"] == crd_uid
    out = helm("uninstall", RELEASE, f"--namespace={namespace}", "--wait", "--timeout=3m",
               kubeconfig=kubeconfig)
    assert "kept due to the resource policy" not in out  # not the release's any more
    assert crd(kubeconfig)["metadata"]["uid"] == crd_uid
    get(kubeconfig, namespace, "md", "kept")
    kubectl(kubeconfig, "delete", "md", "kept", "-n", namespace, "--wait=false")


def test_upgrade_from_the_previous_release(crd_ownership_restored: Path, namespace: str) -> None:
    kubeconfig = crd_ownership_restored
    helm("install", RELEASE, str(PREVIOUS_CHART), f"--namespace={namespace}", "--wait",
         "--timeout=3m", "--set=store.postgresql.enabled=true",
         "--set=store.postgresql.persistence.enabled=false",
         "--set=tests.sampleModel.enabled=false", kubeconfig=kubeconfig)
    kubectl(kubeconfig, "apply", "-n", namespace, "-f", "-",
            input=json.dumps(model_deployment("survivor")))
    md_uid = uid(kubeconfig, namespace, "md", "survivor")
    store = get(kubeconfig, namespace, "statefulset", "vigia-postgresql")
    secret = get(kubeconfig, namespace, "secret", "vigia-store")
    upgrade = ("upgrade", RELEASE, str(CHART), f"--namespace={namespace}",
               "--reset-then-reuse-values", "--wait", "--timeout=3m")

    # The previous chart's CRD came from crds/: no release owns it, so Helm refuses to put
    # it in this one until told to take it (docs/install.md, "Upgrade").
    with pytest.raises(HelmError, match="invalid ownership metadata"):
        helm(*upgrade, kubeconfig=kubeconfig)
    out = helm(*upgrade, "--take-ownership", kubeconfig=kubeconfig)
    assert "has been upgraded" in out and "NOTES:" in out

    history = json.loads(helm("history", RELEASE, f"--namespace={namespace}", "-o", "json",
                              kubeconfig=kubeconfig))
    assert [r["status"] for r in history] == ["superseded", "deployed"], history
    owned_by(kubeconfig, namespace)
    assert "kind: CustomResourceDefinition" in helm(
        "get", "manifest", RELEASE, f"--namespace={namespace}", kubeconfig=kubeconfig)
    # The installed values were kept; the ModelDeployment, the store and its password too,
    # and the store was not restarted (its pod template did not change).
    values = json.loads(helm("get", "values", RELEASE, f"--namespace={namespace}", "-o",
                             "json", kubeconfig=kubeconfig))
    assert values["store"]["postgresql"]["enabled"] is True
    assert uid(kubeconfig, namespace, "md", "survivor") == md_uid
    after = get(kubeconfig, namespace, "statefulset", "vigia-postgresql")
    assert after["metadata"]["generation"] == store["metadata"]["generation"]
    assert after["status"]["currentRevision"] == store["status"]["currentRevision"]
    assert get(kubeconfig, namespace, "secret", "vigia-store")["data"] == secret["data"]
    operator = get(kubeconfig, namespace, "deployment", "vigia-operator")
    assert operator["status"]["updatedReplicas"] == operator["status"]["readyReplicas"] == 1

    uninstall_keeps_the_crd(kubeconfig, namespace, "survivor")
    kubectl(kubeconfig, "delete", "md", "survivor", "-n", namespace, "--wait=false")
