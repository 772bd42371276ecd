"""`vigia report` over a real prediction store (SQLite, PostgreSQL), opened in chromium."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from vigia_serving.store import PredictionStore
from vigia_testbed.traffic import simulate

from tests.fixtures.browser import open_page
from tests.fixtures.postgres import new_database
from vigia.bundle import ModelBundle, export_bundle
from vigia.sample import train_sample_model

pytestmark = pytest.mark.integration
START = datetime(2026, 11, 1, tzinfo=UTC)
SCREENSHOTS = Path(os.environ.get("VIGIA_SCREENSHOTS", "/tmp/vigia-screenshots"))
SECTIONS = ["confusion", "mistakes", "trends", "drift", "canary", "importance", "fairness"]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> tuple[ModelBundle, str, Path]:
    work = tmp_path_factory.mktemp("report-bundle")
    bundle = train_sample_model(rows=2000, seed=3)
    uri = f"file://{work}/sobaos.bentomodel"
    export_bundle(bundle, uri, home=work / "home")
    return bundle, uri, work


def store_url(kind: str, work: Path, request: pytest.FixtureRequest) -> str:
    if kind == "sqlite":
        return f"sqlite:///{work}/predictions.db"
    return new_database(request.getfixturevalue("postgres_url"))


def vigia_report(uri: str, store: str, out: Path, home: Path, *extra: str) -> dict[str, Any]:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "vigia.cli",
            "report",
            "--bundle",
            uri,
            "--store",
            store,
            "--out",
            str(out),
            "--home",
            str(home),
            "--items",
            "sponge cakes",
            "--bad-class",
            "defective",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_report_of_logged_traffic_renders_in_chromium_without_any_request(
    kind: str,
    bundle: tuple[ModelBundle, str, Path],
    tmp_path: Path,
    request: pytest.FixtureRequest,
    playwright_driver: Any,
) -> None:
    model, uri, work = bundle
    url = store_url(kind, tmp_path, request)
    store = PredictionStore(url)
    store.create_tables()
    labels = simulate(store, model, start=START, hours=12, rows=2400, canary_version="2")
    store.close()
    out = tmp_path / "report.html"
    until = (START + timedelta(hours=12)).isoformat()
    summary = vigia_report(uri, url, out, work / "home", "--until", until, "--hours", "12")
    assert summary["predictions"] == 2400
    assert summary["empty_sections"] == ["prometheus"]
    html = out.read_text()
    assert f"Of {labels:,} sponge cakes whose real outcome came back, " in html
    assert "<script" not in html
    with open_page(playwright_driver, out.as_uri()) as (page, recorder):
        page.goto(out.as_uri())
        shown = {s: page.locator(f"section#{s} svg.figure").count() for s in SECTIONS}
        headline = page.inner_text("#headline")
        if kind == "sqlite":
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / "report.png"), full_page=True)
    assert [r.url for r in recorder.requests] == [out.as_uri()]
    assert recorder.errors == []
    assert shown == {
        "confusion": 1,
        "mistakes": 0,
        "trends": 1,
        "drift": 1,
        "canary": 1,
        "importance": 1,
        "fairness": 2,
    }
    assert "2,400" in headline and "Flagged as defective" in headline


def test_window_without_data_says_so_and_draws_nothing(
    bundle: tuple[ModelBundle, str, Path], tmp_path: Path
) -> None:
    model, uri, work = bundle
    url = f"sqlite:///{tmp_path}/p.db"
    store = PredictionStore(url)
    store.create_tables()
    simulate(store, model, start=START, hours=1, rows=200)
    store.close()
    out = tmp_path / "empty.html"
    until = (START - timedelta(days=30)).isoformat()
    summary = vigia_report(uri, url, out, work / "home", "--until", until)
    assert summary["predictions"] == 0
    html = out.read_text()
    assert "No predictions in this window" in html
    assert "<svg" not in html


def test_bad_arguments_are_named(bundle: tuple[ModelBundle, str, Path], tmp_path: Path) -> None:
    _, uri, work = bundle
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "vigia.cli",
            "report",
            "--bundle",
            uri,
            "--store",
            f"sqlite:///{tmp_path}/p.db",
            "--out",
            str(tmp_path / "r.html"),
            "--home",
            str(work / "home"),
            "--bad-class",
            "burnt",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 1
    assert "--bad-class: 'burnt' is not one of defective, good" in done.stderr
