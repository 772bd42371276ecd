"""Every object the chart renders, for every values scenario, is accepted by the real API
server (server-side dry run, strict field validation, CRDs installed)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from vigia_testbed.kube import kubectl

from tests.fixtures.helm import CHART, SCENARIOS, Obj, names, template

pytestmark = pytest.mark.integration


def dry_run(kubeconfig: Path, namespace: str, objects: list[Obj]) -> str:
    return kubectl(kubeconfig, "apply", "--dry-run=server", "--validate=strict",
                   "-n", namespace, "-f", "-", input=yaml.safe_dump_all(objects))


def scenario_sets(scenario: Path, namespace: str) -> list[str]:
    """Namespaces a scenario names are replaced by the test's own (they must exist)."""
    values = yaml.safe_load(scenario.read_text()) or {}
    if values.get("operator", {}).get("watchNamespaces"):
        return [f"operator.watchNamespaces={{{namespace}}}"]
    return []


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.name)
def test_every_rendered_object_is_accepted(crds: Path, namespace: str, scenario: Path) -> None:
    objects = template([scenario], scenario_sets(scenario, namespace), namespace=namespace,
                       release=f"r{namespace[-6:]}")
    out = dry_run(crds, namespace, objects)
    # kubectl names every object it would create: all of them, and no warning.
    assert len(out.strip().splitlines()) == len(objects), (out, names(objects))
    assert all("(server dry run)" in line for line in out.strip().splitlines())


def test_rules_and_dashboards_are_accepted(crds: Path, namespace: str, tmp_path: Path) -> None:
    """The PrometheusRule and dashboard ConfigMap the chart makes from rule and dashboard
    files, as they will be once manifests/prometheus holds them."""
    chart = tmp_path / "vigia"
    shutil.copytree(CHART, chart)
    rules = chart / "files/prometheus/rules"
    rules.mkdir(parents=True, exist_ok=True)
    (rules / "vigia-drift.yaml").write_text(
        "groups:\n  - name: vigia-drift\n    rules:\n"
        "      - record: vigia:feature_psi\n        expr: sum(vigia_feature_bin_total)\n"
        "      - alert: VigiaDrift\n        expr: vigia:feature_psi > 0.2\n        for: 5m\n"
        "        labels: {severity: warning}\n        annotations: {summary: drift}\n")
    (chart / "files/grafana").mkdir(parents=True, exist_ok=True)
    (chart / "files/grafana/vigia.json").write_text('{"title": "Vigía", "panels": []}\n')
    for values in (CHART / "ci/prometheus-operator-values.yaml",
                   CHART / "ci/default-values.yaml"):
        objects = template([values], chart=chart, namespace=namespace,
                           release=f"r{namespace[-6:]}")
        kinds = {o["kind"] for o in objects}
        assert "PrometheusRule" in kinds or "ConfigMap" in kinds
        out = dry_run(crds, namespace, objects)
        assert len(out.strip().splitlines()) == len(objects), out


def test_the_api_server_refuses_what_the_schema_would_not(crds: Path, namespace: str) -> None:
    """The dry run is a real check: a wrong field in a rendered object is refused."""
    objects = template(namespace=namespace, release=f"r{namespace[-6:]}")
    deployment = next(o for o in objects if o["kind"] == "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = "Sometimes"
    deployment["spec"]["replica"] = 1
    with pytest.raises(Exception) as refused:
        dry_run(crds, namespace, [deployment])
    assert "replica" in str(refused.value)
