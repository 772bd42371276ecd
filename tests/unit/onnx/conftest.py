from __future__ import annotations

import pytest

from vigia.bundle import ModelBundle
from vigia.onnx.export import Compiled, compile_bundle
from vigia.sample import reference_benchmark_model, train_sample_model


@pytest.fixture(scope="session")
def sample_bundle() -> ModelBundle:
    return train_sample_model(rows=1200, seed=4)


@pytest.fixture(scope="session")
def compiled(sample_bundle: ModelBundle) -> Compiled:
    return compile_bundle(sample_bundle)


@pytest.fixture(scope="session")
def numeric_bundle() -> ModelBundle:
    return reference_benchmark_model(rows=1200, seed=4)
