"""A real model server over the sample bundle, for the browser page's tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from vigia_serving.local import LocalServer

from vigia.browser_page import WebAssetsMissingError, check_assets
from vigia.bundle import ModelBundle, export_bundle
from vigia.sample import train_sample_model


@pytest.fixture(scope="module", autouse=True)
def web_assets() -> None:
    try:
        check_assets()
    except WebAssetsMissingError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="module")
def sample_bundle() -> ModelBundle:
    return train_sample_model(rows=2000, seed=1, version="7")


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, sample_bundle: ModelBundle
) -> Iterator[LocalServer]:
    work = tmp_path_factory.mktemp("page-server")
    uri = f"file://{work}/sobaos.bentomodel"
    export_bundle(sample_bundle, uri, home=work / "home")
    env = {"VIGIA_MODEL_URI": uri, "VIGIA_STORE_URL": f"sqlite:///{work}/predictions.db",
           "VIGIA_BROWSER_PAGE": "true",  # an opt-in (spec.serving.browserPage.enabled)
           "VIGIA_TELEMETRY": "true"}  # the page offers telemetry; the visitor opts in
    running = LocalServer(work, env).start_ready()
    yield running
    running.stop()


def write_csv(path: Path, records: list[dict[str, object]]) -> Path:
    names = list(records[0])
    lines = [",".join(names)]
    lines += [",".join("" if r[n] is None else str(r[n]) for n in names) for r in records]
    path.write_text("\n".join(lines) + "\n")
    return path
