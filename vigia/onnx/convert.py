"""scikit-learn to ONNX with skl2onnx: probability tensors, no ZipMap.

A Pipeline that starts with a ColumnTransformer takes one ``[N, 1]`` input per feature
(float for numeric, string for categorical), so categorical features reach the graph's
own encoder. Any other estimator takes one float ``[N, n_features]`` matrix, which
needs every feature numeric. An estimator skl2onnx cannot convert is refused before
conversion, naming it and where it sits in the model.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from skl2onnx import convert_sklearn, supported_converters
from skl2onnx.common.data_types import FloatTensorType, StringTensorType
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import FeatureUnion, Pipeline

from vigia.bundle import ModelBundle
from vigia.onnx.manifest import MATRIX_INPUT, InputMode

_PASSTHROUGH = ("drop", "passthrough")


class UnsupportedModelError(ValueError):
    """A model (or a part of it) that has no ONNX converter."""


def input_mode(estimator: Any) -> InputMode:
    first = estimator.steps[0][1] if isinstance(estimator, Pipeline) else estimator
    return "columns" if isinstance(first, ColumnTransformer) else "matrix"


def check_supported(bundle: ModelBundle) -> InputMode:
    """The input mode, or UnsupportedModelError naming the first part without a converter."""
    supported = set(supported_converters(from_sklearn=True))
    for where, part in _parts(bundle.estimator, "model"):
        name = type(part).__name__
        if name not in supported:
            raise UnsupportedModelError(
                f"{where}: {name} has no ONNX converter (skl2onnx); "
                "the model can only be served with runtime sklearn"
            )
    mode = input_mode(bundle.estimator)
    if mode == "matrix":
        categorical = [f.name for f in bundle.metadata.schema.features if f.kind != "numeric"]
        if categorical:
            raise UnsupportedModelError(
                f"model: categorical feature {categorical[0]!r} needs a Pipeline starting with "
                "a ColumnTransformer to be exported to ONNX"
            )
    return mode


def _parts(estimator: Any, where: str) -> Iterator[tuple[str, Any]]:
    if isinstance(estimator, Pipeline):
        for name, step in estimator.steps:
            if not (isinstance(step, str) and step in _PASSTHROUGH) and step is not None:
                yield from _parts(step, f"{where} step {name!r}")
        return
    if isinstance(estimator, ColumnTransformer):
        for name, transformer, _ in estimator.transformers_:
            if not (isinstance(transformer, str) and transformer in _PASSTHROUGH):
                yield from _parts(transformer, f"{where} transformer {name!r}")
        return
    if isinstance(estimator, FeatureUnion):
        for name, transformer in estimator.transformer_list:
            yield from _parts(transformer, f"{where} transformer {name!r}")
        return
    yield where, estimator


def to_onnx(bundle: ModelBundle) -> tuple[bytes, InputMode, dict[str, int]]:
    """The serialized ONNX graph, its input mode and its opsets (domain -> version)."""
    mode = check_supported(bundle)
    schema = bundle.metadata.schema
    inputs: list[tuple[str, Any]]
    if mode == "columns":
        inputs = [
            (
                f.name,
                FloatTensorType([None, 1]) if f.kind == "numeric" else StringTensorType([None, 1]),
            )
            for f in schema.features
        ]
    else:
        inputs = [(MATRIX_INPUT, FloatTensorType([None, len(schema.features)]))]
    estimator = bundle.estimator
    final = estimator.steps[-1][1] if isinstance(estimator, Pipeline) else estimator
    model = convert_sklearn(estimator, initial_types=inputs, options={id(final): {"zipmap": False}})
    opsets = {(o.domain or "ai.onnx"): int(o.version) for o in model.opset_import}
    return model.SerializeToString(), mode, opsets
