"""Fixtures: the sample bundle exported to a tmp dir, and real model servers over it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from vigia_serving.local import LocalServer

from tests.fixtures.postgres import new_database
from vigia.bundle import ModelBundle, export_bundle
from vigia.sample import train_sample_model

STORES = ["sqlite", "postgres"]


@dataclass(frozen=True)
class Sample:
    bundle: ModelBundle
    uri: str
    digest: str


@pytest.fixture(scope="session")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Sample:
    work = tmp_path_factory.mktemp("bundle")
    bundle = train_sample_model(rows=2000, seed=1, version="7")
    uri = f"file://{work}/sobaos.bentomodel"
    digest = export_bundle(bundle, uri, home=work / "home")
    return Sample(bundle, uri, digest)


def store_url(kind: str, work: Path, request: pytest.FixtureRequest) -> str:
    if kind == "sqlite":
        return f"sqlite:///{work}/predictions.db"
    return new_database(request.getfixturevalue("postgres_url"))


def start_server(work: Path, sample: Sample, store: str, **env: str) -> LocalServer:
    settings = {
        "VIGIA_MODEL_URI": sample.uri,
        "VIGIA_STORE_URL": store,
        "VIGIA_TRACK": "canary",
        "VIGIA_MAX_REQUEST_ROWS": "50",
        "VIGIA_FLUSH_INTERVAL_S": "0.2",
        **env,
    }
    return LocalServer(work, settings).start_ready()


@pytest.fixture(scope="module", params=STORES)
def served(
    request: pytest.FixtureRequest, sample: Sample, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LocalServer, str]]:
    """A running server over the sample, with its store URL (SQLite, then PostgreSQL)."""
    work = tmp_path_factory.mktemp(f"server-{request.param}")
    url = store_url(request.param, work, request)
    server = start_server(work, sample, url)
    yield server, url
    server.stop()
