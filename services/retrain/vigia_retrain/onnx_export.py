"""The candidate's ONNX form (spec.export.onnx): converted, checked, written beside it.

Parity is checked on the evaluation rows (the original holdout and the recent feedback:
real inputs the candidate never trained on) with ``vigia.onnx``'s threshold. The export
is an extra: whatever goes wrong (no converter for the estimator, a failed parity, the
output store) is reported in the result's ``onnx.error`` and never changes the verdict.
A graph whose parity failed is not written.
"""

from __future__ import annotations

import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any, Final

import pandas as pd

from vigia.bundle import ModelBundle
from vigia.onnx.convert import UnsupportedModelError
from vigia.onnx.export import ParityError, compile_bundle, write_compiled
from vigia.onnx.manifest import MANIFEST_FILE, MODEL_FILE
from vigia.onnx.parity import ParityReport
from vigia_retrain import output

UNSUPPORTED: Final = "UnsupportedModel"
PARITY_FAILED: Final = "ParityFailed"
EXPORT_FAILED: Final = "ExportFailed"


def export_candidate(
    bundle: ModelBundle, rows: pd.DataFrame, folder_uri: str, *, home: str
) -> dict[str, Any]:
    """The result's ``onnx`` part: where the files are and the parity, or the error."""
    try:
        compiled = compile_bundle(bundle, rows)
    except UnsupportedModelError as err:
        return _error(UNSUPPORTED, str(err))
    except Exception as err:
        traceback.print_exc(file=sys.stderr)
        return _error(EXPORT_FAILED, f"{type(err).__name__}: {err}")
    parity = _parity(compiled.parity)
    try:
        with tempfile.TemporaryDirectory(prefix="onnx-", dir=_workdir(home)) as local:
            write_compiled(compiled, Path(local))
            files = output.copy_folder(Path(local), folder_uri)
    except ParityError as err:
        return {**_error(PARITY_FAILED, str(err)), "parity": parity}
    except Exception as err:
        traceback.print_exc(file=sys.stderr)
        return {**_error(EXPORT_FAILED, f"{type(err).__name__}: {err}"), "parity": parity}
    return {
        "uri": files[MODEL_FILE],
        "manifestUri": files[MANIFEST_FILE],
        "bytes": len(compiled.model),
        "inputMode": compiled.manifest.input_mode,
        "parity": parity,
    }


def _parity(report: ParityReport) -> dict[str, Any]:
    return {
        "rows": report.rows,
        "labelAgreement": round(report.label_agreement, 6),
        "disagreements": report.disagreements,
        "maxProbabilityDifference": float(f"{report.max_probability_difference:.3g}"),
        "threshold": report.threshold,
        "passed": report.passed,
    }


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def _workdir(home: str) -> str:
    path = Path(home)
    path.mkdir(parents=True, exist_ok=True)
    return str(path)
