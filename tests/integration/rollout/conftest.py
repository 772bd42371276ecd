"""Fixtures of the rollout integration tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures import gateway_api


@pytest.fixture(scope="session")
def gateway_crds(kubeconfig: Path) -> Path:
    """The Gateway API CRDs installed in the session's cluster."""
    gateway_api.install(kubeconfig)
    return kubeconfig
