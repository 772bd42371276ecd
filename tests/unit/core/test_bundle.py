from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import fsspec
import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline

from tests.unit.core.helpers import UnpickleCountingClassifier
from vigia.bundle import (
    SIDECAR_SUFFIX,
    BundleError,
    DigestMismatchError,
    ModelBundle,
    SchemeNotAllowedError,
    export_bundle,
    load_bundle,
    make_bundle,
)
from vigia.features import validate_records
from vigia.sample import production_line


@pytest.fixture
def memory_uri() -> Iterator[str]:
    root = f"memory://vigia-test-{uuid.uuid4().hex}"
    yield f"{root}/models/sobaos.bentomodel"
    fsspec.filesystem("memory").rm(root, recursive=True)


@pytest.fixture(scope="module")
def counting_bundle() -> ModelBundle:
    X, y = production_line(400, seed=5, missing_rate=0.0)
    X = X[["oven_temperature", "dough_humidity", "line_speed"]]
    model = UnpickleCountingClassifier(max_iter=500).fit(X, y)
    return make_bundle(model, X, y, name="counting", version="1")


def test_make_bundle_describes_the_model(sample_bundle: ModelBundle) -> None:
    meta = sample_bundle.metadata
    assert (meta.name, meta.version) == ("sobaos", "1")
    assert meta.classes == ("defective", "good")
    assert {"accuracy", "f1_macro", "train_accuracy"} <= set(meta.training_metrics)
    assert 0.7 < meta.training_metrics["accuracy"] <= 1.0
    assert meta.schema["shift"].kind == "categorical"
    assert meta.schema["ambient_temperature"].nullable
    assert set(meta.profile.numeric) | set(meta.profile.categorical) == set(meta.schema.names)
    assert meta.created_at.endswith("+00:00")


def test_pipeline_with_column_transformer_round_trips(
    sample_bundle: ModelBundle, sample_rows: tuple[pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    assert isinstance(sample_bundle.estimator, Pipeline)
    assert isinstance(sample_bundle.estimator.steps[0][1], ColumnTransformer)
    uri = f"file://{tmp_path}/store/sobaos.bentomodel"
    digest = export_bundle(sample_bundle, uri, home=tmp_path / "home")
    assert digest.startswith("sha256:") and len(digest) == 7 + 64
    assert (tmp_path / "store" / f"sobaos.bentomodel{SIDECAR_SUFFIX}").read_text().strip() == digest

    loaded = load_bundle(uri, home=tmp_path / "home")

    assert isinstance(loaded.estimator, Pipeline)
    assert loaded.metadata.to_dict() == sample_bundle.metadata.to_dict()
    X, _ = sample_rows
    np.testing.assert_array_equal(loaded.predict_proba(X), sample_bundle.predict_proba(X))


def test_validated_rows_predict_like_the_training_frame(
    sample_bundle: ModelBundle, sample_rows: tuple[pd.DataFrame, pd.Series]
) -> None:
    X, _ = sample_rows
    rows = X.astype(object).where(X.notna(), None).to_dict(orient="records")
    frame = validate_records(sample_bundle.metadata.schema, rows)
    np.testing.assert_allclose(sample_bundle.predict_proba(frame), sample_bundle.predict_proba(X))


def test_plain_path_round_trip(counting_bundle: ModelBundle, tmp_path: Path) -> None:
    path = str(tmp_path / "counting.bentomodel")
    digest = export_bundle(counting_bundle, path, home=tmp_path)
    loaded = load_bundle(path, digest, home=tmp_path)
    assert loaded.metadata.classes == counting_bundle.metadata.classes


def test_schemes_outside_the_allow_list_are_refused_before_fetching(
    counting_bundle: ModelBundle, memory_uri: str, tmp_path: Path
) -> None:
    # fsspec could read it (export writes there), but bundles load only from file and s3.
    digest = export_bundle(counting_bundle, memory_uri, home=tmp_path)
    for uri in (memory_uri, "http://127.0.0.1:9/m.bentomodel"):
        with pytest.raises(SchemeNotAllowedError, match="is not allowed; use one of file://"):
            load_bundle(uri, digest, home=tmp_path / "load")
    # fsspec's chaining (a::b opens a over b) would hide another scheme behind an allowed one.
    with pytest.raises(SchemeNotAllowedError, match=r"chained URIs \(::\) are not allowed"):
        load_bundle("s3://b/m.bentomodel::http://127.0.0.1:9/x", digest, home=tmp_path / "load")
    assert not (tmp_path / "load").exists()


def test_a_remote_bundle_needs_the_callers_digest(tmp_path: Path) -> None:
    # Refused before any request: whoever writes the bucket also writes its sidecar.
    with pytest.raises(DigestMismatchError, match="remote bundle needs one"):
        load_bundle("s3://bucket/m.bentomodel", None, home=tmp_path)
    assert not (tmp_path / "downloads").exists()


def test_a_malformed_sidecar_is_not_echoed(counting_bundle: ModelBundle, tmp_path: Path) -> None:
    uri = str(tmp_path / "counting.bentomodel")
    export_bundle(counting_bundle, uri, home=tmp_path)
    Path(uri + SIDECAR_SUFFIX).write_text("<html>secret-page-content</html>\n")
    with pytest.raises(DigestMismatchError, match="sidecar") as caught:
        load_bundle(uri, home=tmp_path)
    assert "secret-page-content" not in str(caught.value)


def test_bentoml_store_lives_under_home(counting_bundle: ModelBundle, tmp_path: Path) -> None:
    uri = str(tmp_path / "b.bentomodel")
    export_bundle(counting_bundle, uri, home=tmp_path / "export-home")
    load_bundle(uri, home=tmp_path / "home")
    downloads = list((tmp_path / "home" / "downloads").iterdir())
    assert [p.suffix for p in downloads] == [".bentomodel"]
    # Each load imports into a private store and removes it once the estimator is in memory.
    assert list((tmp_path / "home" / "models").iterdir()) == []


def test_digest_of_another_bundle_is_refused_before_unpickling(
    counting_bundle: ModelBundle, sample_bundle: ModelBundle, tmp_path: Path
) -> None:
    uri = str(tmp_path / "counting.bentomodel")
    export_bundle(counting_bundle, uri, home=tmp_path)
    other = export_bundle(sample_bundle, str(tmp_path / "other.bentomodel"), home=tmp_path)
    before = UnpickleCountingClassifier.unpickled

    with pytest.raises(DigestMismatchError) as caught:
        load_bundle(uri, other, home=tmp_path)

    assert UnpickleCountingClassifier.unpickled == before
    assert other in str(caught.value)
    load_bundle(uri, home=tmp_path)  # the counter does move when a bundle is loaded
    assert UnpickleCountingClassifier.unpickled == before + 1


def test_tampered_archive_is_refused_before_unpickling(
    counting_bundle: ModelBundle, tmp_path: Path
) -> None:
    uri = str(tmp_path / "counting.bentomodel")
    digest = export_bundle(counting_bundle, uri, home=tmp_path)
    data = bytearray(Path(uri).read_bytes())
    data[len(data) // 2] ^= 0xFF
    Path(uri).write_bytes(bytes(data))
    before = UnpickleCountingClassifier.unpickled

    with pytest.raises(DigestMismatchError) as caught:
        load_bundle(uri, home=tmp_path)  # the sidecar still holds the original digest

    assert UnpickleCountingClassifier.unpickled == before
    assert digest in str(caught.value)
    assert "does not match" in str(caught.value)


def test_no_digest_and_no_sidecar_is_refused(counting_bundle: ModelBundle, tmp_path: Path) -> None:
    uri = str(tmp_path / "counting.bentomodel")
    export_bundle(counting_bundle, uri, home=tmp_path)
    Path(uri + SIDECAR_SUFFIX).unlink()
    with pytest.raises(DigestMismatchError, match="no digest"):
        load_bundle(uri, home=tmp_path)


@pytest.mark.parametrize("digest", ["sha256:abc", "md5:" + "0" * 32, ""])
def test_malformed_digest_is_refused(
    counting_bundle: ModelBundle, tmp_path: Path, digest: str
) -> None:
    uri = str(tmp_path / "counting.bentomodel")
    export_bundle(counting_bundle, uri, home=tmp_path)
    with pytest.raises(DigestMismatchError, match="sha256:<64 hex>"):
        load_bundle(uri, digest, home=tmp_path)


def test_sha256sum_sidecar_format_is_accepted(counting_bundle: ModelBundle, tmp_path: Path) -> None:
    uri = str(tmp_path / "counting.bentomodel")
    digest = export_bundle(counting_bundle, uri, home=tmp_path)
    bare = digest.removeprefix("sha256:")
    Path(uri + SIDECAR_SUFFIX).write_text(f"{bare}  counting.bentomodel\n")
    assert load_bundle(uri, home=tmp_path).metadata.name == "counting"


def test_missing_bundle_is_a_bundle_error(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="not found"):
        load_bundle(str(tmp_path / "nothing.bentomodel"), "sha256:" + "0" * 64, home=tmp_path)


def test_make_bundle_refuses_an_unfitted_estimator() -> None:
    X, y = production_line(50, seed=1)
    with pytest.raises(BundleError, match="not fitted"):
        make_bundle(UnpickleCountingClassifier(), X, y, name="m", version="1")


@pytest.mark.parametrize(("name", "version"), [("Bad Name", "1"), ("ok", "v 2"), ("", "1")])
def test_make_bundle_refuses_bad_names(
    counting_bundle: ModelBundle, name: str, version: str
) -> None:
    X, y = production_line(50, seed=1, missing_rate=0.0)
    X = X[list(counting_bundle.metadata.schema.names)]
    with pytest.raises(BundleError, match=r"name|version"):
        make_bundle(counting_bundle.estimator, X, y, name=name, version=version)


def test_unsupported_protocol_is_a_bundle_error(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="'nope' is not allowed"):
        load_bundle("nope://bucket/m.bentomodel", "sha256:" + "0" * 64, home=tmp_path)
    assert not (tmp_path / "downloads").exists()  # nothing fetched, no partial download
