"""What the job leaves behind: the candidate bundle, its JSON report, and the result.

The result goes to stdout and to the termination message, which Kubernetes cuts at
4096 bytes: the result is the report's summary, and when even that is too long the
largest optional parts (importance, per-group figures) are dropped first and
``truncated`` lists them; the report beside the bundle always has everything.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fsspec
from fsspec.core import url_to_fs

from vigia.bundle import ModelBundle, export_bundle
from vigia.retraining import (
    BUNDLE_SUFFIX,
    DEFAULT_TERMINATION_PATH,
    HTML_REPORT_SUFFIX,
    ONNX_SUFFIX,
    REPORT_SUFFIX,
    TERMINATION_MESSAGE_LIMIT,
)
from vigia.uris import scheme_refusal
from vigia_retrain.errors import RetrainInputError, UnavailableError

# Dropped in this order when the result does not fit the termination message.
OPTIONAL_PARTS = (
    ("importance",), ("fairness", "groups"), ("drop",), ("onnx", "error", "message"),
    ("reasons", "message"),
)


@dataclass(frozen=True)
class CandidateUris:
    """Where a candidate's files go under the output location."""

    bundle: str
    report: str  # JSON, everything the job measured
    html_report: str  # the same for people (vigia.report.candidate)
    onnx_folder: str  # model.onnx + model.json, with spec.export.onnx


def candidate_uris(output_uri: str, name: str, version: str) -> CandidateUris:
    # The operator names versions after their Job, which already starts with the model's name.
    base = version if version.startswith(f"{name}-") else f"{name}-{version}"
    stem = f"{output_uri.rstrip('/')}/{base}"
    return CandidateUris(
        bundle=stem + BUNDLE_SUFFIX,
        report=stem + REPORT_SUFFIX,
        html_report=stem + HTML_REPORT_SUFFIX,
        onnx_folder=stem + ONNX_SUFFIX,
    )


def prepare_output(output_uri: str) -> None:
    """Make sure the output directory exists (a no-op on object stores)."""
    refused = scheme_refusal(output_uri)
    if refused is not None:
        raise RetrainInputError("output_uri", f"{output_uri}: {refused}")
    try:
        fs, path = url_to_fs(output_uri)
        fs.makedirs(path, exist_ok=True)
    except (ValueError, ImportError) as err:
        raise RetrainInputError("output_uri", f"{output_uri}: cannot write there ({err})") from err
    except OSError as err:
        raise UnavailableError("output_uri", f"{output_uri}: cannot write there ({err})") from err


def write_candidate(bundle: ModelBundle, uri: str, *, home: str) -> str:
    """Export the bundle (and its .sha256 sidecar); return its digest."""
    try:
        return export_bundle(bundle, uri, home=home)
    except OSError as err:
        raise UnavailableError("output_uri", f"{uri}: cannot write the bundle ({err})") from err


def write_report(report: dict[str, Any], uri: str) -> None:
    try:
        with fsspec.open(uri, "w") as out:
            out.write(json.dumps(report, indent=2, allow_nan=False) + "\n")
    except OSError as err:
        raise UnavailableError("output_uri", f"{uri}: cannot write the report ({err})") from err


def write_text(text: str, uri: str, what: str) -> None:
    try:
        with fsspec.open(uri, "w", encoding="utf-8") as out:
            out.write(text)
    except OSError as err:
        raise UnavailableError("output_uri", f"{uri}: cannot write the {what} ({err})") from err


def copy_folder(local: Path, uri: str) -> dict[str, str]:
    """Copy the files of ``local`` into the folder ``uri``; their URIs by file name."""
    copied = {}
    for path in sorted(local.iterdir()):
        target = f"{uri.rstrip('/')}/{path.name}"
        with fsspec.open(target, "wb", auto_mkdir=True) as out:
            out.write(path.read_bytes())
        copied[path.name] = target
    return copied


def publish_result(result: dict[str, Any], termination_path: str | None) -> str:
    """Print the result and write it where Kubernetes reads the termination message."""
    text = fit_message(result)
    print(text, flush=True)
    path = termination_path or (
        DEFAULT_TERMINATION_PATH if os.path.exists(DEFAULT_TERMINATION_PATH) else None
    )
    if path is not None:
        try:
            Path(path).write_text(text)
        except OSError as err:
            print(f"vigia-retrain: cannot write the result to {path}: {err}", file=sys.stderr)
    return text


def fit_message(result: dict[str, Any], limit: int = TERMINATION_MESSAGE_LIMIT) -> str:
    """Compact JSON of ``result``, dropping optional parts until it fits in ``limit`` bytes."""
    current = json.loads(json.dumps(result, allow_nan=False))
    dropped: list[str] = []
    text = _compact(current)
    for part in OPTIONAL_PARTS:
        if len(text.encode()) <= limit:
            break
        if _drop(current, part):
            dropped.append(".".join(part))
            current["truncated"] = dropped
            text = _compact(current)
    return text


def _drop(node: Any, path: tuple[str, ...]) -> bool:
    """Remove ``path`` from ``node``; a path through a dict of items applies to each."""
    if not path:
        return False
    head, rest = path[0], path[1:]
    if isinstance(node, list):
        return any([_drop(item, path) for item in node])
    if not isinstance(node, dict):
        return False
    if not rest:
        if head in node:
            del node[head]
            return True
        return any([_drop(v, path) for v in node.values() if isinstance(v, dict | list)])
    if head in node:
        return _drop(node[head], rest)
    return False


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), allow_nan=False)
