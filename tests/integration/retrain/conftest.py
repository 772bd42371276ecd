"""Fixtures: the current sample model and its data, shared by the module's job runs."""

from __future__ import annotations

import pytest
from vigia_testbed.retrain import Current, clean_env, sample_current


@pytest.fixture(scope="session")
def current(tmp_path_factory: pytest.TempPathFactory) -> Current:
    return sample_current(tmp_path_factory.mktemp("current"))


@pytest.fixture
def base_env() -> dict[str, str]:
    """The test process's environment without any VIGIA_RETRAIN_* left over."""
    return clean_env()
