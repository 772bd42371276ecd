"""Bundles through s3:// against a real S3-compatible server (moto's, on 127.0.0.1)."""

from __future__ import annotations

from pathlib import Path

import fsspec
import pytest

from vigia.bundle import DigestMismatchError, export_bundle, load_bundle
from vigia.sample import production_line, train_sample_model

pytestmark = pytest.mark.integration


def test_bundle_round_trips_through_s3(s3_bucket: str, tmp_path: Path) -> None:
    bundle = train_sample_model(rows=600, seed=5)
    uri = f"s3://{s3_bucket}/models/sobaos-1.bentomodel"
    digest = export_bundle(bundle, uri, home=tmp_path / "export")

    loaded = load_bundle(uri, None, home=tmp_path / "load")  # digest from the sidecar

    X, _ = production_line(50, seed=9)
    assert (loaded.predict_proba(X) == bundle.predict_proba(X)).all()
    assert loaded.metadata.version == bundle.metadata.version
    assert load_bundle(uri, digest, home=tmp_path / "again").metadata.name == "sobaos"


def test_a_replaced_s3_object_is_refused(s3_bucket: str, tmp_path: Path) -> None:
    first = train_sample_model(rows=600, seed=5, version="1")
    second = train_sample_model(rows=600, seed=6, version="2")
    uri = f"s3://{s3_bucket}/models/replaced.bentomodel"
    digest = export_bundle(first, uri, home=tmp_path / "a")
    fs = fsspec.filesystem("s3", skip_instance_cache=True)
    other = f"s3://{s3_bucket}/models/other.bentomodel"
    export_bundle(second, other, home=tmp_path / "b")
    fs.copy(other, uri)  # the object changes under the digest the user pinned

    with pytest.raises(DigestMismatchError, match=digest.removeprefix("sha256:")[:12]):
        load_bundle(uri, digest, home=tmp_path / "load")
