"""The compiled runtime: the bundle's ONNX form run with onnxruntime (VIGIA_RUNTIME).

``sklearn`` keeps the estimator. ``onnx`` converts the bundle at load, checks parity
against scikit-learn on rows drawn from the training profile, and refuses to start
when parity fails. ``auto`` uses ONNX only when conversion and parity succeed, and
scikit-learn otherwise. Monitoring, logging, feedback and /explain see the same
bundle: only ``predict_proba`` changes, and the estimator stays for SHAP.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from vigia.bundle import ModelBundle
from vigia.onnx.parity import frame_columns
from vigia.onnx.runner import OnnxModel, columns_feed

if TYPE_CHECKING:
    from vigia.onnx.export import Compiled

log = logging.getLogger("bentoml.serve.vigia")


@dataclass
class OnnxBundle(ModelBundle):
    """A bundle whose probabilities come from its ONNX form."""

    compiled: Compiled | None = None
    runner: OnnxModel | None = None

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        return self.predict_proba_columns(frame_columns(frame))

    def predict_proba_columns(self, columns: Mapping[str, np.ndarray]) -> np.ndarray:
        """From checked columns (vigia.features.Columns) straight to the graph: the
        server's batches skip the DataFrame that scikit-learn needs."""
        assert self.compiled is not None and self.runner is not None
        return self.runner.predict_proba_feed(columns_feed(self.compiled.manifest, columns))


def select_runtime(bundle: ModelBundle, runtime: str) -> ModelBundle:
    """The bundle as ``runtime`` asks (see the module's docstring)."""
    if runtime == "sklearn":
        return bundle
    if bundle.metadata.is_regression:
        reason = "the compiled runtime serves classifiers only; this model is a regressor"
        if runtime == "onnx":
            from vigia.onnx.convert import UnsupportedModelError as NotCompiled

            raise NotCompiled(reason)
        log.warning("runtime auto: serving with scikit-learn because %s", reason)
        return bundle
    # skl2onnx is imported only when asked for: a scikit-learn server never pays for it.
    from vigia.onnx.convert import UnsupportedModelError
    from vigia.onnx.export import ParityError, compile_bundle

    try:
        compiled = compile_bundle(bundle)
        if not compiled.parity.passed:
            raise ParityError(compiled.parity)
    except (UnsupportedModelError, ParityError) as exc:
        if runtime == "onnx":
            raise
        log.warning("runtime auto: serving with scikit-learn because %s", exc)
        return bundle
    parity = compiled.parity
    log.info(
        "runtime %s: serving the ONNX form (parity on %d rows, largest difference %.2g)",
        runtime,
        parity.rows,
        parity.max_probability_difference,
    )
    return OnnxBundle(bundle.estimator, bundle.metadata, compiled, compiled.runner())


def compiled_of(bundle: ModelBundle) -> Compiled | None:
    return bundle.compiled if isinstance(bundle, OnnxBundle) else None
