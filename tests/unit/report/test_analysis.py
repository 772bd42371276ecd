from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from vigia.bundle import ModelBundle
from vigia.costs import CostTable, ErrorCost
from vigia.report import analysis
from vigia.report.analysis import Terms
from vigia.sample import production_line, train_sample_model

START = datetime(2026, 1, 1, tzinfo=UTC)
TERMS = Terms(items="sponge cakes", bad_class="defective")


def frame(rows: Sequence[tuple[str, str | None, float]], minutes: int = 1) -> pd.DataFrame:
    """Predictions (predicted, label, probability of the predicted class)."""
    records = []
    for i, (predicted, label, p) in enumerate(rows):
        other = "good" if predicted == "defective" else "defective"
        records.append(
            {
                "id": f"p{i}",
                "created_at": START + timedelta(minutes=minutes * i),
                "version": "1",
                "track": "stable",
                "features": None,
                "predicted": predicted,
                "probabilities": {predicted: p, other: 1 - p},
                "label": label,
            }
        )
    return pd.DataFrame(records)


def test_confusion_counts_real_items_in_business_words() -> None:
    rows = [("good", "defective", 0.8)] * 20 + [("defective", "good", 0.7)] * 30
    rows += [("good", "good", 0.9)] * 1900 + [("defective", "defective", 0.9)] * 50
    confusion = analysis.confusion(frame(rows), ["defective", "good"], TERMS)
    assert confusion is not None
    assert confusion.counts.tolist() == [[50, 20], [30, 1900]]
    assert confusion.sentence == (
        "Of 2,000 sponge cakes whose real outcome came back, 20 defective ones passed as good "
        "and 30 good ones were taken for defective."
    )


def test_confusion_without_labels_is_none_and_multiclass_names_worst_mistake() -> None:
    assert analysis.confusion(frame([("good", None, 0.9)]), ["defective", "good"], TERMS) is None
    data = frame([("good", "defective", 0.6)] * 3 + [("defective", "good", 0.6)])
    confusion = analysis.confusion(data, ["defective", "good"], Terms())
    assert confusion is not None
    assert confusion.sentence.endswith(
        "4 were classified wrongly; most often 3 defective taken for good."
    )


def test_confident_mistakes_come_surest_first() -> None:
    data = frame([("good", "defective", 0.6), ("good", "good", 0.99), ("defective", "good", 0.95)])
    wrong = analysis.confident_mistakes(data)
    assert wrong["id"].tolist() == ["p2", "p0"]
    assert wrong["confidence"].tolist() == pytest.approx([0.95, 0.6])


def test_trends_leave_accuracy_out_where_too_few_labels() -> None:
    rows = [("good", "good", 0.9)] * 30 + [("good", None, 0.7)] * 30
    trends = analysis.trends(frame(rows, minutes=2), "1h")
    assert trends["predictions"].tolist() == [30, 30]
    assert trends["accuracy"].iloc[0] == 1.0
    assert np.isnan(trends["accuracy"].iloc[1])
    assert trends["confidence"].tolist() == pytest.approx([0.9, 0.7])


@pytest.fixture(scope="module")
def bundle() -> ModelBundle:
    return train_sample_model(rows=1000, seed=2)


def logged(bundle: ModelBundle, drift: float, rows: int, start: datetime) -> pd.DataFrame:
    X, y = production_line(rows, seed=int(drift * 10) + 5, drift=drift)
    proba = bundle.predict_proba(X)
    classes = list(bundle.metadata.classes)
    records = X.astype(object).where(X.notna(), None).to_dict(orient="records")
    return pd.DataFrame(
        {
            "id": [f"{drift}-{i}" for i in range(rows)],
            "created_at": [start + timedelta(seconds=i) for i in range(rows)],
            "version": "1",
            "track": "stable",
            "features": records,
            "predicted": [classes[k] for k in proba.argmax(axis=1)],
            "probabilities": [dict(zip(classes, p, strict=True)) for p in proba.tolist()],
            "label": y.to_numpy(),
        }
    )


def test_drift_over_time_sees_the_shift_only_where_it_happened(bundle: ModelBundle) -> None:
    data = pd.concat(
        [logged(bundle, 0.0, 600, START), logged(bundle, 2.0, 600, START + timedelta(hours=1))],
        ignore_index=True,
    )
    features = analysis.feature_frame(data, bundle.metadata.schema)
    drift = analysis.drift_over_time(data, features, bundle.metadata.profile, "1h")
    assert len(drift) == 2
    assert drift["ambient_temperature"].iloc[0] < 0.1 < 0.2 < drift["ambient_temperature"].iloc[1]
    assert drift["oven_temperature"].max() < 0.1
    assert drift["flour_supplier"].iloc[1] > drift["flour_supplier"].iloc[0]


def test_importance_ranks_the_features_the_rule_uses(bundle: ModelBundle) -> None:
    data = logged(bundle, 0.0, 800, START)
    features = analysis.feature_frame(data, bundle.metadata.schema)
    scores, what = analysis.importance(bundle, features, data["label"])
    assert what == "accuracy lost"
    top = set(scores.index[:4])
    assert top & {"oven_temperature", "baking_minutes", "dough_humidity"}
    unlabelled, what = analysis.importance(bundle, features, None)
    assert what == "share of predictions that change"
    assert unlabelled.min() >= 0


def test_fairness_and_canary_history(bundle: ModelBundle) -> None:
    data = logged(bundle, 0.0, 400, START)
    data.loc[300:, "track"] = "canary"
    data.loc[300:, "version"] = "2"
    features = analysis.feature_frame(data, bundle.metadata.schema)
    groups = analysis.fairness(data, features, "shift", TERMS)
    assert groups["group"].tolist() == ["afternoon", "morning", "night"]
    assert groups["rows"].sum() == 400
    assert groups["flagged"].between(0, 1).all()
    shares = analysis.canary_history(data, "1h")
    assert shares.sum(axis=1).tolist() == pytest.approx([1.0])
    assert shares["2 (canary)"].iloc[0] == pytest.approx(0.25)


def test_business_kpis_in_words() -> None:
    rows = (
        [("good", "defective", 0.8)] * 2
        + [("good", "good", 0.9)] * 8
        + [("defective", None, 0.9)] * 10
    )
    kpis = dict(analysis.business_kpis(frame(rows), ["defective", "good"], TERMS))
    assert kpis["Sponge cakes checked by the model"] == "20"
    assert kpis["Flagged as defective"] == "10 (50.0%)"
    assert kpis["Model right on those"] == "8 (80.0%)"
    assert kpis["Defective ones passed, per 1,000 known outcomes"] == "200.0"


def test_buckets_grow_with_the_window() -> None:
    assert analysis.bucket_frequency(86400) == "1h"
    assert analysis.bucket_frequency(7 * 86400) == "6h"
    assert analysis.bucket_frequency(30 * 86400) == "1D"


def test_per_class_recall_and_precision_from_the_confusion_counts() -> None:
    rows = [("good", "defective", 0.8)] * 20 + [("defective", "good", 0.7)] * 30
    rows += [("good", "good", 0.9)] * 1900 + [("defective", "defective", 0.9)] * 50
    confusion = analysis.confusion(frame(rows), ["defective", "good"], TERMS)
    assert confusion is not None
    rates = analysis.class_rates(confusion)
    assert rates["defective"] == (50 / 70, 50 / 80)
    assert rates["good"] == (1900 / 1930, 1900 / 1920)
    assert analysis.class_rates_sentence(confusion, TERMS).endswith(
        "defective 71% found, 62% right; good 98% found, 99% right.")


def test_the_errors_cost_in_the_business_unit_and_how_it_moved() -> None:
    costs = CostTable((ErrorCost("good", "defective", 10.0), ErrorCost("defective", "good", 1.0)),
                      "EUR per 1,000 cakes")
    # First half: 1,000 labelled, 20 defective passed and 30 good discarded (230 per 1,000);
    # second half: 50 passed, 20 discarded (520 per 1,000).
    # Rows are (predicted, label): ("good", "defective") is a defective one passed.
    first = [("good", "defective", 0.8)] * 20 + [("defective", "good", 0.7)] * 30
    first += [("good", "good", 0.9)] * 900 + [("defective", "defective", 0.9)] * 50
    second = [("good", "defective", 0.8)] * 50 + [("defective", "good", 0.7)] * 20
    second += [("good", "good", 0.9)] * 880 + [("defective", "defective", 0.9)] * 50
    data = frame(first + second)
    assert analysis.cost_sentence(data, costs) == (
        "The errors cost 375 EUR per 1,000 cakes over the window (2,000 labelled), up from 230 "
        "in its first half to 520 in its second.")
    assert analysis.cost_sentence(frame([("good", None, 0.9)]), costs) is None
