"""Fixtures of the operator's integration tests: the CRD and RBAC installed, and the
operator running as its own ServiceAccount in a separate process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from vigia_testbed.operator import OperatorProcess, install, operator_kubeconfig


@pytest.fixture(scope="session")
def installed(kubeconfig: Path) -> Path:
    install(kubeconfig)
    return kubeconfig


@pytest.fixture(scope="session")
def operator_config(installed: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return operator_kubeconfig(installed, tmp_path_factory.mktemp("operator") / "kubeconfig")


@pytest.fixture
def operator(operator_config: Path, namespace: str, tmp_path: Path) -> Iterator[OperatorProcess]:
    # A short tick: Secrets are not watched, the tick notices a newly labelled one.
    process = OperatorProcess(operator_config, tmp_path / "operator.log", [namespace],
                              env={"VIGIA_OPERATOR_TICK_SECONDS": "5"})
    process.start()
    try:
        yield process
    finally:
        process.stop()
        log = process.log()
        # A missing permission or a crashed handler shows up in the log, not in the test.
        assert "is forbidden: User" not in log, log[-4000:]
        assert "Traceback" not in log, log[-4000:]
