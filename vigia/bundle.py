"""The model bundle: a fitted scikit-learn estimator plus everything Vigía knows about it.

On disk a bundle is a BentoML model (``bentoml.sklearn.save_model``) exported as a
``.bentomodel`` archive, with Vigía's metadata as JSON under the model metadata key
``vigia``. Archives travel through fsspec URIs; a sidecar ``<uri>.sha256`` holds
``sha256:<hex>``. Loading hashes the archive bytes before BentoML or joblib reads
any of them.

Trust policy (docs/model-bundle.md, ``vigia.uris``): only the URI schemes in
``LOADER_SCHEMES`` are fetched; for a remote URI (``REMOTE_SCHEMES``) the caller's digest
is the trust anchor, and a sidecar is read only when the caller explicitly allows it.
Errors never echo what was fetched.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import fsspec
import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score

from vigia.calibration.check import Calibration, check_calibration
from vigia.estimators import CLASSIFICATION, REGRESSION, TASKS, ModelTask, UnservableEstimatorError
from vigia.estimators import model_task as estimator_task
from vigia.features import FeatureSchema
from vigia.profile import TrainingProfile, build_profile, build_regression_profile
from vigia.regression import regression_metrics
from vigia.uris import REMOTE_SCHEMES, scheme_refusal, uri_scheme

METADATA_KEY = "vigia"
FORMAT_VERSION = 1
DIGEST_PREFIX = "sha256:"
SIDECAR_SUFFIX = ".sha256"
ARCHIVE_SUFFIX = ".bentomodel"
_NAME = re.compile(r"^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$")
_VERSION = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,62})?$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_CHUNK = 1 << 20
# BentoML picks its model store through a process-wide container; we swap it per call.
_STORE_LOCK = threading.Lock()


class BundleError(Exception):
    """A bundle that cannot be made, written or read."""


class DigestMismatchError(BundleError):
    """The archive's sha256 is not the expected one (or no digest was available)."""


class UnservableModelError(BundleError):
    """An estimator Vigía cannot serve (unfitted, a clusterer, a transformer alone, ...)."""


class SchemeNotAllowedError(BundleError):
    """The URI's scheme is not one the loader fetches."""


def check_scheme(uri: str) -> str:
    """The scheme of ``uri`` if the loader may fetch it, else SchemeNotAllowedError."""
    refused = scheme_refusal(uri)
    if refused is not None:
        raise SchemeNotAllowedError(f"bundle URI {refused}")
    return uri_scheme(uri)


@dataclass
class BundleMetadata:
    name: str
    version: str
    schema: FeatureSchema
    classes: tuple[str, ...]
    training_metrics: dict[str, float]
    profile: TrainingProfile
    created_at: str
    # classification (classes, probabilities) or regression (values; classes is empty).
    task: ModelTask = CLASSIFICATION

    @property
    def is_regression(self) -> bool:
        return self.task == REGRESSION
    # The calibration check on the holdout (vigia.calibration); None: bundled without one.
    calibration: Calibration | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT_VERSION,
            "name": self.name,
            "version": self.version,
            "task": self.task,
            "schema": self.schema.to_dict(),
            "classes": list(self.classes),
            "training_metrics": dict(self.training_metrics),
            "profile": self.profile.to_dict(),
            "created_at": self.created_at,
            "calibration": None if self.calibration is None else self.calibration.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BundleMetadata:
        if data.get("format") != FORMAT_VERSION:
            raise BundleError("unsupported bundle format (not written by this Vigía version)")
        task = data.get("task", CLASSIFICATION)  # bundles made before regression had none
        if task not in TASKS:
            raise BundleError(f"unsupported model task {task!r}; expected one of {TASKS}")
        return cls(
            name=str(data["name"]),
            version=str(data["version"]),
            schema=FeatureSchema.from_dict(data["schema"]),
            classes=tuple(str(c) for c in data["classes"]),
            training_metrics={k: float(v) for k, v in data["training_metrics"].items()},
            profile=TrainingProfile.from_dict(data["profile"]),
            created_at=str(data["created_at"]),
            task=task,
            calibration=_calibration(data.get("calibration")),
        )


@dataclass
class ModelBundle:
    estimator: Any
    metadata: BundleMetadata

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Class probabilities, columns in ``metadata.classes`` order."""
        return np.asarray(self.estimator.predict_proba(frame))

    def predict_values(self, frame: pd.DataFrame) -> np.ndarray:
        """A regressor's predicted values, one float per row."""
        return np.asarray(self.estimator.predict(frame), dtype=np.float64).reshape(len(frame))

    def predict_output(self, frame: pd.DataFrame) -> np.ndarray:
        """What the model outputs per row: probabilities [rows, classes] for a classifier,
        values [rows] for a regressor."""
        if self.metadata.is_regression:
            return self.predict_values(frame)
        return self.predict_proba(frame)


def model_task(estimator: Any) -> ModelTask:
    """The estimator's task, or UnservableModelError saying why it cannot be served."""
    try:
        return estimator_task(estimator)
    except UnservableEstimatorError as err:
        raise UnservableModelError(f"cannot bundle this model: {err}") from err


def make_bundle(
    estimator: Any,
    X_train: pd.DataFrame,
    y_train: pd.Series | np.ndarray,
    *,
    name: str,
    version: str,
    X_holdout: pd.DataFrame | None = None,
    y_holdout: pd.Series | np.ndarray | None = None,
) -> ModelBundle:
    """Describe an already fitted classifier or regressor: schema, profile, classes (for
    a classifier) and metrics. Refuses (UnservableModelError) what cannot be served."""
    _check_names(name, version)
    task = model_task(estimator)
    if (X_holdout is None) != (y_holdout is None):
        raise BundleError("give both X_holdout and y_holdout, or neither")
    schema = FeatureSchema.from_frame(X_train)
    if task == REGRESSION:
        return _regression_bundle(
            estimator, schema, X_train, y_train, X_holdout, y_holdout, name, version
        )
    X_eval = X_train if X_holdout is None else X_holdout
    proba = np.asarray(estimator.predict_proba(X_eval))
    metadata = BundleMetadata(
        name=name,
        version=version,
        schema=schema,
        classes=tuple(str(c) for c in estimator.classes_),
        training_metrics=_metrics(estimator, X_train, y_train, X_holdout, y_holdout),
        profile=build_profile(X_train, y_train, proba, schema=schema),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        calibration=None if y_holdout is None else check_calibration(
            proba, [str(c) for c in estimator.classes_], np.asarray(y_holdout).astype(str)),
    )
    return ModelBundle(estimator, metadata)


def _regression_bundle(
    estimator: Any,
    schema: FeatureSchema,
    X_train: pd.DataFrame,
    y_train: pd.Series | np.ndarray,
    X_holdout: pd.DataFrame | None,
    y_holdout: pd.Series | np.ndarray | None,
    name: str,
    version: str,
) -> ModelBundle:
    y_fit = _numeric_target(y_train, "y_train")
    fitted = np.asarray(estimator.predict(X_train), dtype=np.float64).reshape(len(X_train))
    held = None
    if X_holdout is not None and y_holdout is not None:
        predicted = np.asarray(estimator.predict(X_holdout), dtype=np.float64)
        held = (_numeric_target(y_holdout, "y_holdout"), predicted.reshape(len(X_holdout)))
    metadata = BundleMetadata(
        name=name,
        version=version,
        schema=schema,
        classes=(),
        training_metrics=regression_metrics((y_fit, fitted), held),
        profile=build_regression_profile(X_train, fitted, schema=schema),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        task=REGRESSION,
    )
    return ModelBundle(estimator, metadata)


def _numeric_target(y: pd.Series | np.ndarray, field: str) -> np.ndarray:
    try:
        values = np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise BundleError(f"{field}: a regressor's target must be numbers") from err
    if values.ndim != 1:
        raise BundleError(f"{field}: one target column; multi-output regressors are not served")
    if not np.isfinite(values).all():
        raise BundleError(f"{field}: the target has missing or infinite values")
    return values


def _calibration(data: Any) -> Calibration | None:
    return None if data is None else Calibration.from_dict(data)


def _check_names(name: str, version: str) -> None:
    if not _NAME.match(name):
        raise BundleError(f"name {name!r}: use lowercase letters, digits, '.', '-', '_'")
    if not _VERSION.match(version):
        raise BundleError(f"version {version!r}: use letters, digits, '.', '-', '_'")


def _metrics(
    estimator: Any,
    X_train: pd.DataFrame,
    y_train: pd.Series | np.ndarray,
    X_holdout: pd.DataFrame | None,
    y_holdout: pd.Series | np.ndarray | None,
) -> dict[str, float]:
    y_fit = np.asarray(y_train).astype(str)
    result = {
        "rows_train": float(len(X_train)),
        "train_accuracy": float(accuracy_score(y_fit, _predict(estimator, X_train))),
    }
    if X_holdout is not None and y_holdout is not None:
        y_true = np.asarray(y_holdout).astype(str)
        y_pred = _predict(estimator, X_holdout)
        result["rows_holdout"] = float(len(X_holdout))
        result["accuracy"] = float(accuracy_score(y_true, y_pred))
        result["f1_macro"] = float(f1_score(y_true, y_pred, average="macro"))
    return result


def _predict(estimator: Any, X: pd.DataFrame) -> np.ndarray:
    classes = np.asarray(estimator.classes_).astype(str)
    return np.asarray(classes[np.argmax(estimator.predict_proba(X), axis=1)])


def export_bundle(bundle: ModelBundle, uri: str, *, home: str | Path | None = None) -> str:
    """Write the bundle archive to ``uri`` and its ``<uri>.sha256`` sidecar; return the digest."""
    base = Path(home) if home is not None else Path(tempfile.gettempdir()) / "vigia"
    base.mkdir(parents=True, exist_ok=True)
    _bentoml(base)
    with tempfile.TemporaryDirectory(dir=base, prefix="export-") as tmp:
        archive = _save_archive(bundle, Path(tmp))
        digest = file_digest(archive)
        with open(archive, "rb") as src, _open(uri, "wb") as dst:
            shutil.copyfileobj(src, dst, _CHUNK)
    with _open(uri + SIDECAR_SUFFIX, "w") as sidecar:
        sidecar.write(digest + "\n")
    return digest


def _save_archive(bundle: ModelBundle, work: Path) -> Path:
    bentoml, store_cls, container = _bentoml(work.parent)
    meta = bundle.metadata
    tag = f"{meta.name}:{meta.version}"
    store = store_cls(str(work / "models"))
    with _STORE_LOCK, container.model_store.patch(store):
        bentoml.sklearn.save_model(
            tag,
            bundle.estimator,
            signatures={_signature(meta): {"batchable": True}},
            labels={"vigia.dev/version": meta.version},
            metadata={METADATA_KEY: json.dumps(meta.to_dict(), allow_nan=False)},
        )
    target = work / f"{meta.name}-{meta.version}{ARCHIVE_SUFFIX}"
    bentoml.models.export_model(tag, str(target), _model_store=store)
    return target


def _signature(meta: BundleMetadata) -> str:
    return "predict" if meta.is_regression else "predict_proba"


@dataclass(frozen=True)
class DownloadLimits:
    """Bounds of one bundle download: its size in bytes and its duration."""

    max_bytes: int = 2 * 1024**3
    timeout_s: float = 600.0


class DownloadLimitError(BundleError):
    """The download exceeded its size or time bound."""


def load_bundle(
    uri: str,
    digest: str | None = None,
    *,
    home: str | Path,
    limits: DownloadLimits | None = None,
    allow_sidecar_digest: bool = False,
) -> ModelBundle:
    """Fetch, verify and load a bundle. The sha256 of the archive is checked against
    ``digest`` before anything is unpickled. Without ``digest`` the ``<uri>.sha256``
    sidecar is used for a local file, and for a remote URI only when
    ``allow_sidecar_digest`` is set."""
    home = Path(home)
    scheme = check_scheme(uri)
    if digest is None and scheme in REMOTE_SCHEMES and not allow_sidecar_digest:
        raise DigestMismatchError(
            f"bundle {uri}: no digest given; a remote bundle needs one "
            "(sidecar digests are not trusted unless explicitly allowed)"
        )
    expected = _expected_digest(uri, digest)
    archive = _fetch_verified(uri, expected, home / "downloads", limits or DownloadLimits())
    return _import_verified(archive, home)


def _expected_digest(uri: str, digest: str | None) -> str:
    source = "given digest"
    if digest is None:
        source = f"sidecar {uri}{SIDECAR_SUFFIX}"
        try:
            with _open(uri + SIDECAR_SUFFIX, "r") as sidecar:
                words = sidecar.read().split()
            digest = words[0] if words else ""
        except FileNotFoundError as err:
            raise DigestMismatchError(
                f"bundle {uri}: no digest given and no sidecar {uri}{SIDECAR_SUFFIX}; "
                "refusing to load an unverified bundle"
            ) from err
    digest = digest.strip().lower()
    if re.fullmatch(r"[0-9a-f]{64}", digest):  # sha256sum's format: bare hex
        digest = DIGEST_PREFIX + digest
    if not _DIGEST.match(digest):
        # The sidecar was fetched: its content is never echoed.
        shown = f" {digest!r}" if source == "given digest" else ""
        raise DigestMismatchError(f"bundle {uri}: {source}{shown} is not sha256:<64 hex>")
    return digest


def _fetch_verified(uri: str, expected: str, downloads: Path, limits: DownloadLimits) -> Path:
    """The archive, downloaded (or reused from an earlier download) and hashed once:
    only an archive whose sha256 is ``expected`` ever reaches its final name."""
    downloads.mkdir(parents=True, exist_ok=True)
    target = downloads / (expected.removeprefix(DIGEST_PREFIX) + ARCHIVE_SUFFIX)
    if target.exists() and file_digest(target) == expected:
        return target
    fd, name = tempfile.mkstemp(dir=downloads, suffix=".part")
    os.close(fd)
    partial = Path(name)
    try:
        with _open(uri, "rb") as src, open(partial, "wb") as dst:
            _copy_bounded(src, dst, uri, limits)
        actual = file_digest(partial)
        if actual != expected:
            raise DigestMismatchError(
                f"bundle {uri}: archive digest {actual} does not match expected {expected}"
            )
        os.replace(partial, target)
    except FileNotFoundError as err:
        raise BundleError(f"bundle {uri}: not found") from err
    finally:
        partial.unlink(missing_ok=True)
    return target


def _copy_bounded(src: Any, dst: Any, uri: str, limits: DownloadLimits) -> None:
    deadline = time.monotonic() + limits.timeout_s
    size = 0
    while chunk := src.read(_CHUNK):
        size += len(chunk)
        if size > limits.max_bytes:
            raise DownloadLimitError(f"bundle {uri}: larger than {limits.max_bytes} bytes")
        if time.monotonic() > deadline:
            raise DownloadLimitError(f"bundle {uri}: download took over {limits.timeout_s} s")
        dst.write(chunk)


def _import_verified(archive: Path, home: Path) -> ModelBundle:
    bentoml, store_cls, _ = _bentoml(home)
    stores = home / "models"
    stores.mkdir(parents=True, exist_ok=True)
    # A fresh store per load: concurrent workers never race on one model directory.
    store_dir = Path(tempfile.mkdtemp(dir=stores, prefix="store-"))
    try:
        model = bentoml.models.import_model(str(archive), _model_store=store_cls(str(store_dir)))
        raw = model.info.metadata.get(METADATA_KEY)
        if not isinstance(raw, str):
            raise BundleError(f"bundle {archive.name}: no Vigía metadata in the BentoML model")
        metadata = BundleMetadata.from_dict(json.loads(raw))
        estimator = bentoml.sklearn.load_model(model)
    finally:
        shutil.rmtree(store_dir, ignore_errors=True)
    return ModelBundle(estimator, metadata)


def _open(uri: str, mode: str) -> Any:
    """fsspec.open with missing protocol support reported as a BundleError."""
    try:
        opened = fsspec.open(uri, mode)
    except (ImportError, ValueError) as err:
        raise BundleError(f"bundle {uri}: cannot open this URI ({err})") from err
    return opened


def file_digest(path: str | Path) -> str:
    """``sha256:<hex>`` of a local file."""
    with open(path, "rb") as f:
        return DIGEST_PREFIX + hashlib.file_digest(f, "sha256").hexdigest()


def _bentoml(home: Path) -> tuple[Any, Any, Any]:
    # BentoML creates its home directory on import; keep it out of ~ unless told otherwise.
    os.environ.setdefault("BENTOML_HOME", str(Path(home) / "bentoml"))
    import bentoml
    from bentoml._internal.configuration.containers import BentoMLContainer
    from bentoml._internal.models.model import ModelStore

    return bentoml, ModelStore, BentoMLContainer
