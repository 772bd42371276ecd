"""The kubectl experience of the CRD the chart installs: `kubectl get md` shows stable
version, canary weight, drift, accuracy, phase and age; `kubectl explain md.spec` documents
every field."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from vigia_testbed.kube import kubectl, wait_for

from tests.fixtures.helm import CRD_FILE

pytestmark = pytest.mark.integration

CRD = yaml.safe_load(CRD_FILE.read_text())
SPEC = CRD["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]


def test_get_md_shows_the_state_in_columns(crds: Path, namespace: str) -> None:
    md = {"apiVersion": "vigia.dev/v1alpha1", "kind": "ModelDeployment",
          "metadata": {"name": "sobaos"}, "spec": {"model": {"uri": "file:///models/sobaos/3"}}}
    kubectl(crds, "apply", "-n", namespace, "-f", "-", input=json.dumps(md))
    status = {"status": {"phase": "Progressing", "stable": {"version": "3"},
                         "serving": {"replicas": 3, "readyReplicas": 2},
                         "canary": {"version": "4", "weight": 10},
                         "monitoring": {"drift": {"score": 0.31}, "accuracy": 0.93}}}
    kubectl(crds, "patch", "md", "sobaos", "-n", namespace, "--subresource=status",
            "--type=merge", "-p", json.dumps(status))
    table = wait_for(lambda: _table_if_patched(crds, namespace), 30, "patched status shown")
    header, row = table
    assert header == ["NAME", "READY", "DESIRED", "STABLE", "CANARY", "DRIFT", "ACCURACY",
                      "PHASE", "AGE"]
    assert row[:8] == ["sobaos", "2", "3", "3", "10", "0.31", "0.93", "Progressing"]
    assert re.fullmatch(r"\d+s|\d+m\d*s?", row[8]), row[8]
    # The short name, and the category with the other Vigía resources.
    assert "sobaos" in kubectl(crds, "get", "vigia", "-n", namespace)


def _table_if_patched(kubeconfig: Path, namespace: str) -> list[list[str]] | None:
    lines = kubectl(kubeconfig, "get", "md", "-n", namespace).splitlines()
    rows = [line.split() for line in lines]
    return rows if len(rows) == 2 and "Progressing" in rows[1] else None


def spec_fields(schema: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    for name, sub in schema.get("properties", {}).items():
        yield f"{prefix}{name}", sub.get("description", "")
        yield from spec_fields(sub, f"{prefix}{name}.")
        if "items" in sub:
            yield from spec_fields(sub["items"], f"{prefix}{name}.")


def test_explain_documents_every_spec_field(crds: Path) -> None:
    fields = dict(spec_fields(SPEC))
    assert len(fields) > 60
    undocumented = [f for f, description in fields.items() if not description]
    assert undocumented == []
    top = kubectl(crds, "explain", "md.spec")
    for name, sub in SPEC["properties"].items():
        assert f"  {name}\t" in top, name
        assert " ".join(sub["description"].split()[:4]) in " ".join(top.split()), name
    # Every field, at any depth, has its own explain page with its description.
    for path in ("serving.batching.maxLatencyMs", "rollout.analysis.onNoData",
                 "monitoring.drift.statistic", "retraining.gate.fairness.sensitiveFeatures"):
        page = " ".join(kubectl(crds, "explain", f"md.spec.{path}").split())
        assert " ".join(fields[path].split()[:5]) in page, path
    recursive = kubectl(crds, "explain", "md.spec", "--recursive")
    fields_part = recursive[recursive.index("FIELDS:"):].splitlines()[1:]
    listed = {line.split()[0] for line in fields_part if line.split()}
    assert {f.rsplit(".", 1)[-1] for f in fields} <= listed
