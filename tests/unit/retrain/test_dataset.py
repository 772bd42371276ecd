from __future__ import annotations

from pathlib import Path

import pytest
from vigia_retrain.dataset import read_dataset
from vigia_retrain.errors import RetrainInputError

from vigia.sample import TARGET, production_line

X, Y = production_line(200, seed=0)
FEATURES = list(X.columns)


@pytest.mark.parametrize("name", ["d.csv", "d.csv.gz", "d.parquet"])
def test_reads_csv_compressed_csv_and_parquet(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    frame = X.assign(extra=1, **{TARGET: Y})
    if name.endswith(".parquet"):
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    features, labels = read_dataset(f"file://{path}", TARGET, list(reversed(FEATURES)))
    assert list(features.columns) == list(reversed(FEATURES))
    assert labels.tolist() == Y.tolist()


def test_rows_without_a_label_are_left_out(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    X.assign(**{TARGET: Y.where(Y.index >= 10)}).to_csv(path, index=False)
    features, labels = read_dataset(str(path), TARGET, FEATURES)
    assert len(features) == len(labels) == 190


@pytest.mark.parametrize(
    ("target", "features", "field", "words"),
    [
        ("grade", FEATURES, "target", "no column 'grade'"),
        (TARGET, [*FEATURES, "colour"], "dataset_uri", "lacks the model's features colour"),
    ],
)
def test_columns_that_are_not_there(
    tmp_path: Path, target: str, features: list[str], field: str, words: str
) -> None:
    path = tmp_path / "d.csv"
    X.assign(**{TARGET: Y}).to_csv(path, index=False)
    with pytest.raises(RetrainInputError, match=words) as caught:
        read_dataset(str(path), target, features)
    assert caught.value.field == field


def test_missing_file_and_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(RetrainInputError, match="not found"):
        read_dataset(str(tmp_path / "none.csv"), TARGET, FEATURES)
    with pytest.raises(RetrainInputError, match=r"\.csv .* or \.parquet"):
        read_dataset(str(tmp_path / "data.xlsx"), TARGET, FEATURES)


def test_too_few_rows(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    X.head(5).assign(**{TARGET: Y.head(5)}).to_csv(path, index=False)
    with pytest.raises(RetrainInputError, match="5 labelled rows"):
        read_dataset(str(path), TARGET, FEATURES)


# What a tenant pointed spec.retraining.dataset.uri at in issue 21: a credentials file.
CREDENTIALS = (
    "AccessKeyId,SecretAccessKey\nAKIAEXAMPLEKEYID0001,wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"
)


@pytest.mark.parametrize(
    "uri",
    ["http://169.254.169.254/latest/meta-data/iam/x.csv", "https://internal.example/d.csv",
     "memory://d.csv", "ftp://host/d.csv", "pvc://data/d.csv"],
)
def test_a_scheme_outside_the_policy_is_refused_before_anything_is_opened(uri: str) -> None:
    with pytest.raises(RetrainInputError, match=r"scheme .* is not allowed") as caught:
        read_dataset(uri, TARGET, FEATURES)
    assert caught.value.field == "dataset_uri"


@pytest.mark.parametrize("uri", ["file::http://10.0.0.1/d.csv",
                                 "s3://bucket/d.csv::http://10.0.0.1/x.csv"])
def test_a_chained_uri_is_refused(uri: str) -> None:
    with pytest.raises(RetrainInputError, match=r"chained URIs \(::\) are not allowed"):
        read_dataset(uri, TARGET, FEATURES)


def test_no_error_quotes_what_was_read(tmp_path: Path) -> None:
    path = tmp_path / "credentials.csv"
    path.write_text(CREDENTIALS * 30)
    with pytest.raises(RetrainInputError) as caught:
        read_dataset(str(path), TARGET, FEATURES)
    said = str(caught.value)
    assert "2 columns" in said
    for secret in ("AccessKeyId", "SecretAccessKey", "AKIAEXAMPLEKEYID0001", "wJalrXUtnFEMI"):
        assert secret not in said


def test_an_unparsable_file_is_named_by_kind_not_content(tmp_path: Path) -> None:
    path = tmp_path / "credentials.parquet"
    path.write_text(CREDENTIALS)
    with pytest.raises(RetrainInputError, match="cannot read it as Parquet") as caught:
        read_dataset(str(path), TARGET, FEATURES)
    assert "AKIA" not in str(caught.value) and "Secret" not in str(caught.value)
