"""Bundle downloads are bounded in size and time; a bounded-out download leaves nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from vigia.bundle import DownloadLimitError, DownloadLimits, export_bundle, load_bundle
from vigia.sample import reference_benchmark_model


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> str:
    work = tmp_path_factory.mktemp("limits")
    uri = f"file://{work}/ref.bentomodel"
    export_bundle(reference_benchmark_model(rows=300, seed=3), uri, home=work / "home")
    return uri


def test_a_bundle_over_the_size_bound_is_refused(exported: str, tmp_path: Path) -> None:
    with pytest.raises(DownloadLimitError, match="larger than 1000 bytes"):
        load_bundle(exported, home=tmp_path, limits=DownloadLimits(max_bytes=1000))
    assert list((tmp_path / "downloads").iterdir()) == []


def test_a_download_over_the_time_bound_is_refused(exported: str, tmp_path: Path) -> None:
    with pytest.raises(DownloadLimitError, match="download took over"):
        load_bundle(exported, home=tmp_path, limits=DownloadLimits(timeout_s=0.0))


def test_within_bounds_it_loads(exported: str, tmp_path: Path) -> None:
    bundle = load_bundle(exported, home=tmp_path, limits=DownloadLimits(max_bytes=10**9))
    assert bundle.metadata.name == "sobaos-benchmark"
