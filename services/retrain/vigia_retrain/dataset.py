"""The base training data: CSV or Parquet through fsspec (path, file://, s3://).

Only the loader's schemes are opened (``vigia.uris.scheme_refusal``, the policy the
operator applies to spec.retraining.dataset.uri). An error never quotes what was read:
the job's message reaches status and Events, and whatever the URI names (a credentials
file, an internal page) must not come back through it. Counts and the model's own
feature names are safe to say; the file's column names and cells are not.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import fsspec
import numpy as np
import pandas as pd

from vigia.uris import scheme_refusal
from vigia_retrain.errors import RetrainInputError, UnavailableError

PARQUET_SUFFIXES = (".parquet", ".pq")
CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2", ".csv.zst", ".csv.xz")
MIN_ROWS = 20


def read_dataset(
    uri: str, target: str, features: Sequence[str], *, numeric: bool = False
) -> tuple[pd.DataFrame, pd.Series]:
    """The model's ``features`` (in that order) and the ``target`` labels, as strings (a
    regressor's, ``numeric``: as numbers; a row whose target is not one is refused)."""
    frame = _read_frame(uri)
    if target not in frame.columns:
        raise RetrainInputError(
            "target", f"no column {target!r} in {uri} (it has {len(frame.columns)} columns)"
        )
    missing = [name for name in features if name not in frame.columns]
    if missing:
        raise RetrainInputError(
            "dataset_uri", f"{uri} lacks the model's features {_names(missing)}"
        )
    frame = frame[frame[target].notna()]
    if len(frame) < MIN_ROWS:
        raise RetrainInputError(
            "dataset_uri", f"{uri} has {len(frame)} labelled rows; at least {MIN_ROWS} needed"
        )
    if numeric:
        return frame[list(features)].reset_index(drop=True), _numbers(frame[target], uri)
    y = frame[target].astype(str).rename(target).reset_index(drop=True)
    return frame[list(features)].reset_index(drop=True), y


def _numbers(column: pd.Series, uri: str) -> pd.Series:
    values = pd.to_numeric(column, errors="coerce")
    bad = int((~np.isfinite(values.to_numpy(dtype=np.float64, na_value=np.nan))).sum())
    if bad:
        raise RetrainInputError(
            "target", f"{uri}: {bad} target values are not finite numbers (a regressor's "
            "target must be)")
    numbers: pd.Series = values.astype(np.float64).reset_index(drop=True)
    numbers.name = column.name
    return numbers


def _read_frame(uri: str) -> pd.DataFrame:
    refused = scheme_refusal(uri)
    if refused is not None:
        raise RetrainInputError("dataset_uri", f"{uri}: {refused}")
    lowered = uri.lower()
    reader: Callable[[Any], pd.DataFrame]
    if lowered.endswith(PARQUET_SUFFIXES):
        reader = pd.read_parquet
    elif lowered.endswith(CSV_SUFFIXES):
        reader = pd.read_csv
    else:
        raise RetrainInputError(
            "dataset_uri", f"{uri}: name it .csv (optionally compressed) or .parquet"
        )
    try:
        with fsspec.open(uri, "rb", compression="infer") as source:
            return reader(source)
    except FileNotFoundError as err:
        raise RetrainInputError("dataset_uri", f"{uri}: not found") from err
    except (ValueError, ImportError, UnicodeDecodeError) as err:
        # The parser's message may quote the file (a line, a cell): only its kind is said.
        raise RetrainInputError(
            "dataset_uri", f"{uri}: cannot read it as {_format(lowered)} ({type(err).__name__})"
        ) from err
    except OSError as err:
        raise UnavailableError("dataset_uri", f"{uri}: cannot reach it ({err})") from err


def _format(lowered: str) -> str:
    return "Parquet" if lowered.endswith(PARQUET_SUFFIXES) else "CSV"


def _names(names: Sequence[object] | pd.Index) -> str:
    shown = [str(n) for n in list(names)[:20]]
    more = len(names) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")
