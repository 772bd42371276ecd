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


@pytest.fixture(scope="session")
def gateway_implementation_crds(kubeconfig: Path) -> Path:
    """The Gateway API CRDs that an implementation (Traefik) watches, installed."""
    gateway_api.install(kubeconfig, gateway_api.IMPLEMENTATION_CRDS)
    return kubeconfig


# The CRD, RBAC and the operator's own kubeconfig, as the operator's tests set them up.
from tests.integration.operator.conftest import installed, operator_config  # noqa: E402

__all__ = ["gateway_crds", "gateway_implementation_crds", "installed", "operator_config"]
