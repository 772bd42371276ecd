"""Keep charts/vigia in step with its single sources, and generate its values reference.

Helm reads only files inside the chart, so the chart holds copies of:
  manifests/crd/*.yaml                -> charts/vigia/files/crds/    (the CRD's schema)
  manifests/rbac/*_role.yaml          -> charts/vigia/files/rbac/    (the operator's rules)
  manifests/prometheus/*-rules.yaml   -> charts/vigia/files/prometheus/rules/  (rule files)
  manifests/grafana/*.json            -> charts/vigia/files/grafana/           (dashboards)
and docs/helm-values.md is generated from charts/vigia/values.schema.json (descriptions,
types) and charts/vigia/values.yaml (defaults).

    python3 tools/helm/chart_sync.py           # write the copies and the docs
    python3 tools/helm/chart_sync.py --check   # exit 1, naming each stale file, if any differ
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = Path("charts/vigia")
VALUES_DOC = Path("docs/helm-values.md")


@dataclass(frozen=True)
class Copy:
    """Every file matching `pattern` (relative to the repository) is copied into `dest`,
    which holds nothing else."""

    pattern: str
    dest: Path


COPIES = (
    # Rendered by templates/crds.yaml (not Helm's crds/, which it never upgrades).
    Copy("manifests/crd/*.yaml", CHART / "files/crds"),
    # The operator's ClusterRole and (with leader election) its Lease Role.
    Copy("manifests/rbac/*_role.yaml", CHART / "files/rbac"),
    # Prometheus rule files (groups:), not the PrometheusRule objects beside them.
    Copy("manifests/prometheus/*-rules.yaml", CHART / "files/prometheus/rules"),
    Copy("manifests/grafana/*.json", CHART / "files/grafana"),
)
KUSTOMIZATION = "kustomization.yaml"  # kubectl's, not a resource: never copied


def expected_copies(root: Path) -> dict[Path, bytes]:
    """Destination (relative to root) -> content, for every copied file."""
    out: dict[Path, bytes] = {}
    for copy in COPIES:
        for source in sorted(root.glob(copy.pattern)):
            if source.name != KUSTOMIZATION:
                out[copy.dest / source.name] = source.read_bytes()
    return out


def expected_files(root: Path) -> dict[Path, bytes]:
    files = expected_copies(root)
    files[VALUES_DOC] = values_reference(root).encode()
    return files


def stale_files(root: Path) -> list[Path]:
    """Files in a managed destination that no source produces any more."""
    wanted = expected_copies(root)
    return sorted(
        path.relative_to(root)
        for copy in COPIES
        if (root / copy.dest).is_dir()
        for path in (root / copy.dest).iterdir()
        if path.is_file() and path.relative_to(root) not in wanted
    )


def differences(root: Path) -> list[str]:
    """One line per file that is missing, different or left over; empty when in step."""
    problems = []
    for path, content in expected_files(root).items():
        target = root / path
        if not target.exists():
            problems.append(f"{path}: missing")
        elif target.read_bytes() != content:
            problems.append(f"{path}: differs from its source")
    problems += [f"{path}: has no source any more" for path in stale_files(root)]
    return problems


def write(root: Path) -> list[Path]:
    """Bring every managed file in step; return the paths changed."""
    changed = []
    for path, content in expected_files(root).items():
        target = root / path
        if not target.exists() or target.read_bytes() != content:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
            changed.append(path)
    for path in stale_files(root):
        (root / path).unlink()
        changed.append(path)
    return changed


# --- the values reference -------------------------------------------------------------

@dataclass(frozen=True)
class ValueDoc:
    key: str
    type: str
    default: Any
    description: str


def _type_of(schema: dict[str, Any]) -> str:
    if "type" in schema:
        kind = schema["type"]
        if kind == "array" and "type" in schema.get("items", {}):
            return f"array of {schema['items']['type']}"
        if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
            return "map of string"
        return str(kind)
    if "anyOf" in schema:
        return " or ".join(str(s.get("type")) for s in schema["anyOf"])
    return "any"


def _allowed(schema: dict[str, Any]) -> str:
    if "enum" in schema:
        return " One of: " + ", ".join(f"`{v}`" if v else '`""`' for v in schema["enum"]) + "."
    return ""


def _is_leaf(schema: dict[str, Any]) -> bool:
    """A documented unit: anything but an object with named properties. Resources
    (requests/limits) are documented as one value too."""
    props = schema.get("properties")
    return not props or set(props) <= {"requests", "limits"}


def walk(schema: dict[str, Any], values: Any, prefix: str = "") -> Iterator[ValueDoc]:
    for name, sub in schema.get("properties", {}).items():
        key = f"{prefix}{name}"
        value = values.get(name) if isinstance(values, dict) else None
        if _is_leaf(sub):
            yield ValueDoc(key, _type_of(sub), value, sub["description"] + _allowed(sub))
        else:
            yield from walk(sub, value, f"{key}.")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _table(schema: dict[str, Any], values: Any) -> list[str]:
    lines = ["| key | type | default | description |", "|---|---|---|---|"]
    for doc in walk(schema, values):
        default = json.dumps(doc.default, ensure_ascii=False)
        lines.append(
            f"| `{doc.key}` | {doc.type} | `{_cell(default)}` | {_cell(doc.description)} |")
    return lines


def values_reference(root: Path) -> str:
    schema = json.loads((root / CHART / "values.schema.json").read_text())
    values = yaml.safe_load((root / CHART / "values.yaml").read_text())
    lines = [
        "# Helm values reference",
        "",
        "<!-- Generated by tools/helm/chart_sync.py from charts/vigia/values.schema.json and",
        "     charts/vigia/values.yaml; edit those and run `python3 tools/helm/chart_sync.py`. -->",
        "",
        "Every value of the `vigia` chart. The chart's `values.schema.json` refuses unknown",
        "keys and wrong types at `helm install`/`helm upgrade`, naming the value.",
    ]
    top = {k: v for k, v in schema["properties"].items() if _is_leaf(v)}
    sections = {k: v for k, v in schema["properties"].items() if k not in top}
    lines += ["", "## Top level", "", *_table({"properties": top}, values)]
    for section, sub in sections.items():
        lines += ["", f"## `{section}`", "", sub["description"], ""]
        lines += _table({"properties": {section: sub}}, {section: values.get(section)})
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only report, exit 1 if stale")
    parser.add_argument("--root", type=Path, default=ROOT, help="repository root")
    args = parser.parse_args(argv)
    if args.check:
        problems = differences(args.root)
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            print("run: python3 tools/helm/chart_sync.py", file=sys.stderr)
        return 1 if problems else 0
    for path in write(args.root):
        print(f"updated {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
