"""The chart's copies of the single sources (CRD, RBAC rules, Prometheus rules, dashboards)
and the generated values reference are current, and the check catches each kind of drift."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tools.helm import chart_sync

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "tools" / "helm" / "chart_sync.py"


def check(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), "--check", f"--root={root}"],
                          capture_output=True, text=True, check=False)


def test_chart_copies_and_values_doc_are_current() -> None:
    result = check(ROOT)
    assert result.returncode == 0, result.stderr


def test_crd_in_chart_is_byte_for_byte_the_manifest() -> None:
    source = ROOT / "manifests/crd/modeldeployments.vigia.dev.yaml"
    assert (ROOT / "charts/vigia/files/crds" / source.name).read_bytes() == source.read_bytes()
    assert [p.name for p in (ROOT / "charts/vigia/files/crds").iterdir()] == [source.name]


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    """The parts of the repository the sync reads and writes, copied."""
    for part in ("manifests", "charts", "docs"):
        shutil.copytree(ROOT / part, tmp_path / part)
    return tmp_path


def test_check_fails_when_the_crd_changes_and_sync_repairs_it(repo_copy: Path) -> None:
    crd = repo_copy / "manifests/crd/modeldeployments.vigia.dev.yaml"
    crd.write_text(crd.read_text().replace("shortNames: [md]", "shortNames: [mdep]"))
    result = check(repo_copy)
    assert result.returncode == 1
    assert "charts/vigia/files/crds/modeldeployments.vigia.dev.yaml: differs" in result.stderr
    chart_sync.write(repo_copy)
    assert check(repo_copy).returncode == 0
    assert "mdep" in (repo_copy / "charts/vigia/files/crds" / crd.name).read_text()


def test_check_fails_when_a_schema_description_changes(repo_copy: Path) -> None:
    schema = repo_copy / "charts/vigia/values.schema.json"
    schema.write_text(schema.read_text().replace("Debug logging.", "Log everything."))
    result = check(repo_copy)
    assert result.returncode == 1 and "docs/helm-values.md: differs" in result.stderr


def test_new_and_removed_sources_are_followed(repo_copy: Path) -> None:
    rules = repo_copy / "manifests/prometheus"
    rules.mkdir(parents=True, exist_ok=True)
    (rules / "drift-rules.yaml").write_text("groups: []\n")
    (rules / "prometheusrule.yaml").write_text("kind: PrometheusRule\n")  # not a rule file
    out = check(repo_copy).stderr
    assert "charts/vigia/files/prometheus/rules/drift-rules.yaml: missing" in out
    assert "prometheusrule.yaml" not in out
    chart_sync.write(repo_copy)
    (rules / "drift-rules.yaml").unlink()
    result = check(repo_copy)
    assert "files/prometheus/rules/drift-rules.yaml: has no source any more" in result.stderr
    chart_sync.write(repo_copy)
    assert not (repo_copy / "charts/vigia/files/prometheus/rules/drift-rules.yaml").exists()
    assert check(repo_copy).returncode == 0


def test_values_reference_lists_every_value_with_its_default() -> None:
    doc = (ROOT / "docs/helm-values.md").read_text()
    for row in ("| `operator.allowedImages` | array of string | `[\"docker.io/vigia/vigia\"]` |",
                "| `store.postgresql.enabled` | boolean | `false` |",
                "| `operator.tickSeconds` | integer | `60` |"):
        assert row in doc
