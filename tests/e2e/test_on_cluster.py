"""scripts/e2e-on-cluster, the one script users' CI runs on kind (examples/ci), run here
against the session's cluster given as an outside kubeconfig: it loads the images into the
node, installs the chart with the Prometheus Operator and runs the e2e tier's tests of the
node through it (the others run in this session already)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from vigia_testbed.realnode import ROOT

pytestmark = pytest.mark.e2e

SCRIPT = ROOT / "scripts/e2e-on-cluster"


def test_the_script_runs_the_e2e_tier_against_an_outside_kubeconfig(
        kubeconfig: Path, local_cluster: str) -> None:
    env = {**os.environ, "KUBECONFIG": "", "VIGIA_VENV": str(Path(sys.prefix))}
    result = subprocess.run(
        [str(SCRIPT), "--kubeconfig", str(kubeconfig), "--load", f"local:{local_cluster}",
         "--", "-k", "test_node"],
        capture_output=True, text=True, env=env, timeout=900, check=False, cwd=ROOT)
    print(result.stdout[-3000:], result.stderr[-3000:])
    assert result.returncode == 0
    assert "images imported into" in result.stderr
    assert "Vigía installed with Helm" in result.stderr
    assert " passed" in result.stdout and " failed" not in result.stdout


def test_the_script_names_what_is_wrong(tmp_path: Path) -> None:
    missing = subprocess.run([str(SCRIPT), "--kubeconfig", str(tmp_path / "nowhere"),
                              "--load", "none"], capture_output=True, text=True, check=False)
    assert missing.returncode == 2 and "cannot read kubeconfig" in missing.stderr
    (tmp_path / "config").write_text("{}")
    wrong = subprocess.run([str(SCRIPT), "--kubeconfig", str(tmp_path / "config"),
                            "--load", "docker"], capture_output=True, text=True, check=False)
    assert wrong.returncode == 2 and "expected kind:CLUSTER" in wrong.stderr
