from __future__ import annotations

import numpy as np
from vigia_serving.compiled import OnnxBundle, select_runtime

from vigia.features import columns_to_frame, record_columns
from vigia.onnx.parity import DEFAULT_THRESHOLD
from vigia.sample import traffic_records, train_sample_model


def test_checked_columns_go_to_the_graph_as_the_frame_would() -> None:
    """The server's batches skip the DataFrame: same probabilities as through a frame
    (categorical features and missing values included), and within parity of sklearn."""
    bundle = train_sample_model(rows=800, seed=2)
    compiled = select_runtime(bundle, "onnx")
    assert isinstance(compiled, OnnxBundle)
    records, _ = traffic_records(300, seed=4)
    schema = bundle.metadata.schema
    columns = record_columns(schema, records)
    assert any(np.isnan(columns[n]).any() for n in schema.names
               if columns[n].dtype == np.float64)  # the sample has missing values
    frame = columns_to_frame(schema, columns)
    direct = compiled.predict_proba_columns(columns)
    assert np.array_equal(direct, compiled.predict_proba(frame))
    assert np.abs(direct - bundle.predict_proba(frame)).max() <= DEFAULT_THRESHOLD
