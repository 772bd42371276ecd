"""``vigia export onnx``: convert, check parity, write ``model.onnx`` and ``model.json``.

Nothing is written when parity fails: a graph that disagrees with its estimator must
not reach a device by accident.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from vigia.bundle import ModelBundle
from vigia.onnx.convert import to_onnx
from vigia.onnx.holdout import profile_rows
from vigia.onnx.manifest import MANIFEST_FILE, MODEL_FILE, Manifest
from vigia.onnx.parity import DEFAULT_THRESHOLD, ParityReport, check_parity, manifest_for
from vigia.onnx.release import RELEASE_FILE, release_of
from vigia.onnx.runner import OnnxModel

PROFILE_ROWS = 2000


class ParityError(ValueError):
    """The ONNX form disagrees with scikit-learn beyond the threshold."""

    def __init__(self, report: ParityReport) -> None:
        super().__init__(
            f"ONNX parity failed on {report.rows} rows: {report.disagreements} labels differ, "
            f"largest probability difference {report.max_probability_difference:.3g} "
            f"(threshold {report.threshold:g})"
        )
        self.report = report


@dataclass(frozen=True)
class Compiled:
    """A bundle's ONNX form with its manifest (parity included) and parity report."""

    model: bytes
    manifest: Manifest
    parity: ParityReport

    def runner(self) -> OnnxModel:
        return OnnxModel(self.model, self.manifest)


def compile_bundle(
    bundle: ModelBundle,
    holdout: pd.DataFrame | None = None,
    *,
    threshold: float = DEFAULT_THRESHOLD,
) -> Compiled:
    """Convert and check parity on ``holdout`` (default: rows drawn from the profile).
    Raises UnsupportedModelError; a failed parity is reported, not raised."""
    model, mode, opsets = to_onnx(bundle)
    manifest = manifest_for(bundle, mode, opsets)
    rows = holdout if holdout is not None else profile_rows(bundle, PROFILE_ROWS)
    rows = rows[list(bundle.metadata.schema.names)]
    parity = check_parity(bundle, OnnxModel(model, manifest), rows, threshold=threshold)
    manifest = dataclasses.replace(manifest, parity=parity.summary())
    return Compiled(model, manifest, parity)


def write_compiled(compiled: Compiled, folder: Path) -> Path:
    """``model.onnx`` and ``model.json`` in ``folder``; refuses a failed parity."""
    if not compiled.parity.passed:
        raise ParityError(compiled.parity)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / MODEL_FILE
    target.write_bytes(compiled.model)
    compiled.manifest.write(folder / MANIFEST_FILE)
    (folder / RELEASE_FILE).write_bytes(release_of(compiled.model, compiled.manifest).to_json())
    return target
