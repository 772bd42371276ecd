from __future__ import annotations

import pandas as pd
import pytest

from vigia.bundle import ModelBundle
from vigia.sample import production_line, train_sample_model


@pytest.fixture(scope="session")
def sample_bundle() -> ModelBundle:
    return train_sample_model(rows=1500, seed=3)


@pytest.fixture(scope="session")
def sample_rows() -> tuple[pd.DataFrame, pd.Series]:
    return production_line(300, seed=11)
