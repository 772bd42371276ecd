"""The Follower on file:// releases: switches after every check, refuses what fails one,
keeps the previous version and falls back to it. (Over real HTTP, with the page:
tests/integration/browser/test_follow.py.)"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from vigia.onnx.export import Compiled, compile_bundle
from vigia.onnx.follow import POINTER_FILE, Follower
from vigia.onnx.manifest import MODEL_FILE
from vigia.onnx.release import RELEASE_FILE, VERSIONS_DIR, point_release, publish_version
from vigia.sample import train_sample_model


@pytest.fixture(scope="module")
def versions() -> dict[str, Compiled]:
    return {v: compile_bundle(train_sample_model(rows=800, seed=int(v), version=v))
            for v in ("1", "2")}


@pytest.fixture
def site(tmp_path: Path, versions: dict[str, Compiled]) -> Path:
    site = tmp_path / "site"
    for compiled in versions.values():
        publish_version(site, compiled.model, compiled.manifest)
    point_release(site, "1")
    return site


def follower(site: Path, store: Path) -> Follower:
    return Follower((site / RELEASE_FILE).as_uri(), store)


def test_promote_then_roll_back_keeping_the_previous_version(site: Path, tmp_path: Path) -> None:
    device = follower(site, tmp_path / "store")
    assert device.check() and device.version == "1"
    assert not device.check()  # same release: nothing to do
    point_release(site, "2")
    assert device.check() and device.version == "2"
    assert sorted(p.name for p in (tmp_path / "store").iterdir()) == ["1", "2", POINTER_FILE]
    point_release(site, "1")
    assert device.check() and device.version == "1"
    assert [(s.version, s.previous) for s in device.switches] == [
        ("1", None), ("2", "1"), ("1", "2")]


def test_a_release_whose_graph_does_not_match_its_digest_is_refused(
    site: Path, tmp_path: Path, versions: dict[str, Compiled]
) -> None:
    device = follower(site, tmp_path / "store")
    device.check()
    point_release(site, "2")
    tampered = site / VERSIONS_DIR / "2" / MODEL_FILE
    tampered.write_bytes(versions["1"].model)  # another graph under version 2's release
    assert not device.check()
    assert device.version == "1"
    assert "digest" in (device.last_error or "")


def test_a_version_whose_parity_failed_is_refused(
    tmp_path: Path, versions: dict[str, Compiled]
) -> None:
    site = tmp_path / "site"
    failed = versions["2"].manifest.parity
    assert failed is not None
    manifest = dataclasses.replace(versions["2"].manifest,
                                   parity=dataclasses.replace(failed, passed=False))
    publish_version(site, versions["2"].model, manifest)
    point_release(site, "2")
    device = follower(site, tmp_path / "store")
    assert not device.check() and device.version is None
    assert "parity" in (device.last_error or "")


def test_a_damaged_current_version_falls_back_to_the_previous_at_start(
    site: Path, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    device = follower(site, store)
    device.check()
    point_release(site, "2")
    device.check()
    (store / "2" / MODEL_FILE).write_bytes(b"not a graph")
    restarted = follower(site, store)
    assert restarted.version == "1"
    assert "stored version 2" in (restarted.last_error or "")
    assert restarted.check() and restarted.version == "2"  # and heals from the release
