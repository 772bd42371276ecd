"""The example GitHub Actions workflow for users' CI (examples/ci) passes actionlint, built
from its Go module, and leaves everything to scripts/e2e-on-cluster. It cannot run here (no
GitHub): its script does, against the local cluster (tests/e2e/test_on_cluster.py)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from tests.fixtures.helm import ROOT, actionlint_path

WORKFLOW = ROOT / "examples/ci/github-actions-kind.yaml"


def lint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(actionlint_path()), "-no-color", str(path)],
                          capture_output=True, text=True, check=False, timeout=120)


def test_example_workflow_passes_actionlint() -> None:
    result = lint(WORKFLOW)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_catches_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(WORKFLOW.read_text()
                      .replace("${{ env.CLUSTER }}", "${{ env.CLUSTER }")
                      .replace("timeout-minutes: 45", "timeout-minute: 45"))
    result = lint(broken)
    assert result.returncode == 1
    assert "timeout-minute" in result.stdout


def test_the_workflow_runs_the_e2e_tier_only_through_the_script() -> None:
    """Whatever the workflow does for tests, it does through scripts/e2e-on-cluster (which
    tests/e2e/test_on_cluster.py runs here): no second, untested copy of the install."""
    steps = yaml.safe_load(WORKFLOW.read_text())["jobs"]["e2e"]["steps"]
    script = "\n".join(step.get("run", "") for step in steps)
    uses = [step.get("uses", "") for step in steps]
    assert any(u.startswith("helm/kind-action@") for u in uses)
    assert "scripts/e2e-on-cluster" in script and '--load "kind:$CLUSTER"' in script
    for elsewhere in ("helm install", "kind load", "pytest"):
        assert elsewhere not in script, elsewhere
