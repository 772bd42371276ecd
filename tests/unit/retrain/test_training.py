from __future__ import annotations

import pandas as pd
from vigia_retrain.feedback import FeedbackData
from vigia_retrain.training import make_splits

from vigia.sample import production_line


def test_newest_feedback_is_kept_for_the_gate() -> None:
    X, y = production_line(1000, seed=0)
    fx, fy = production_line(100, seed=1, drift=1.0)
    feedback = FeedbackData(fx, fy.astype(str), labelled=120, without_features=20, invalid=0)
    splits = make_splits(X, y, feedback, holdout_fraction=0.2, feedback_holdout=0.3, seed=0)
    assert (splits.base_train_rows, len(splits.X_holdout)) == (800, 200)
    assert (splits.feedback_train_rows, len(splits.X_recent)) == (70, 30)
    assert len(splits.X_train) == 870
    pd.testing.assert_frame_equal(splits.X_recent, fx.iloc[70:].reset_index(drop=True))
    assert len(splits.X_eval) == len(splits.y_eval) == 230
    # the holdout keeps the class balance of the base data
    assert abs(splits.y_holdout.eq("good").mean() - y.eq("good").mean()) < 0.01


def test_without_feedback_only_the_base_data_splits() -> None:
    X, y = production_line(500, seed=0)
    splits = make_splits(X, y, None, holdout_fraction=0.2, feedback_holdout=0.3, seed=0)
    assert (len(splits.X_train), len(splits.X_holdout), len(splits.X_recent)) == (400, 100, 0)
    assert len(splits.X_eval) == 100
