"""What a report says, computed from the logged predictions (pure functions, no I/O).

The frame is ``sources.FRAME_COLUMNS``: one row per prediction with its features (a
dict, or None when feature logging was off), the predicted class, the probabilities
(a dict) and the label fed back (None when none came).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from vigia.bundle import ModelBundle
from vigia.costs import CostEstimate, CostTable, figure
from vigia.drift import psi
from vigia.features import FeatureSchema
from vigia.profile import NumericProfile, TrainingProfile

MIN_ROWS_FOR_DRIFT = 50
MIN_LABELS_FOR_ACCURACY = 20
IMPORTANCE_ROWS = 2000


@dataclass(frozen=True)
class Terms:
    """How the business names things: what one row is, and which class means trouble."""

    items: str = "items"
    bad_class: str | None = None


@dataclass(frozen=True)
class Confusion:
    classes: list[str]
    counts: np.ndarray  # [actual, predicted]
    sentence: str


def bucket_frequency(seconds: float) -> str:
    """Time buckets: hours up to two days, six hours up to two weeks, days beyond."""
    if seconds <= 2 * 86400:
        return "1h"
    if seconds <= 14 * 86400:
        return "6h"
    return "1D"


def confidence(frame: pd.DataFrame) -> pd.Series:
    return frame["probabilities"].map(lambda p: max(p.values()) if p else np.nan).astype(float)


def labelled(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["label"].notna()]


def feature_frame(frame: pd.DataFrame, schema: FeatureSchema) -> pd.DataFrame:
    """The logged features of the rows that have them, columns in schema order."""
    logged = frame[frame["features"].notna()]
    records = [{n: f.get(n) for n in schema.names} for f in logged["features"]]
    features = pd.DataFrame(records, index=logged.index, columns=list(schema.names))
    for spec in schema.features:
        if spec.kind == "numeric":
            features[spec.name] = pd.to_numeric(features[spec.name], errors="coerce")
        elif spec.dtype == "category":
            features[spec.name] = pd.Categorical(
                features[spec.name], categories=list(spec.categories or ())
            )
    return features


def confusion(frame: pd.DataFrame, classes: list[str], terms: Terms) -> Confusion | None:
    known = labelled(frame)
    if known.empty:
        return None
    index = {c: i for i, c in enumerate(classes)}
    counts = np.zeros((len(classes), len(classes)), dtype=np.int64)
    for actual, predicted in zip(known["label"], known["predicted"], strict=True):
        if actual in index and predicted in index:
            counts[index[actual], index[predicted]] += 1
    return Confusion(classes, counts, _confusion_sentence(classes, counts, terms))


def class_rates(confusion: Confusion) -> dict[str, tuple[float | None, float | None]]:
    """Per class, its recall (of the items truly of it, the share called it) and precision
    (of the items called it, the share truly of it); None where a class has no such items."""
    counts = confusion.counts
    rates: dict[str, tuple[float | None, float | None]] = {}
    for i, name in enumerate(confusion.classes):
        truly, called, hits = counts[i, :].sum(), counts[:, i].sum(), counts[i, i]
        rates[name] = (float(hits / truly) if truly else None,
                       float(hits / called) if called else None)
    return rates


def class_rates_sentence(confusion: Confusion, terms: Terms) -> str:
    """One sentence: every class's recall and precision, in percent."""

    def pct(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.0%}"

    parts = [f"{name} {pct(recall)} found, {pct(precision)} right"
             for name, (recall, precision) in class_rates(confusion).items()]
    return (f"Per class, the share of the {terms.items} truly of it that were found (recall) "
            f"and of those called it that were right (precision): {'; '.join(parts)}.")


def cost_sentence(frame: pd.DataFrame, costs: CostTable) -> str | None:
    """What the errors cost in the business's unit over the window, and how the second half
    of the labelled rows (by time) compares with the first: "The errors cost 412 EUR per
    1,000 cakes over the window (1,210 labelled), up from 230 in its first half to 590 in
    its second." None without labelled rows."""
    known = labelled(frame).sort_values("created_at")
    whole = _cost_of(known, costs)
    if whole is None:
        return None
    sentence = (f"The errors cost {costs.amount(whole.value)} over the window "
                f"({whole.rows:,} labelled)")
    half = len(known) // 2
    first, second = _cost_of(known.iloc[:half], costs), _cost_of(known.iloc[half:], costs)
    if first is None or second is None or round(first.value) == round(second.value):
        return sentence + "."
    direction = "up" if second.value > first.value else "down"
    return (f"{sentence}, {direction} from {figure(first.value)} in its first half to "
            f"{figure(second.value)} in its second.")


def _cost_of(rows: pd.DataFrame, costs: CostTable) -> CostEstimate | None:
    cells: dict[tuple[str, str], float] = {}
    for actual, predicted in zip(rows["label"], rows["predicted"], strict=True):
        cells[(str(actual), str(predicted))] = cells.get((str(actual), str(predicted)), 0) + 1.0
    return costs.estimate(cells)


def _confusion_sentence(classes: list[str], counts: np.ndarray, terms: Terms) -> str:
    total = int(counts.sum())
    head = f"Of {total:,} {terms.items} whose real outcome came back, "
    if len(classes) == 2 and terms.bad_class in classes:
        bad = classes.index(terms.bad_class)
        good = 1 - bad
        slipped, discarded = int(counts[bad, good]), int(counts[good, bad])
        return (
            head + f"{slipped:,} {classes[bad]} ones passed as {classes[good]} and "
            f"{discarded:,} {classes[good]} ones were taken for {classes[bad]}."
        )
    wrong = total - int(np.trace(counts))
    worst = _worst_mistake(classes, counts)
    return (
        head + f"{wrong:,} were classified wrongly" + (f"; most often {worst}." if worst else ".")
    )


def _worst_mistake(classes: list[str], counts: np.ndarray) -> str:
    off = counts.copy()
    np.fill_diagonal(off, 0)
    if off.sum() == 0:
        return ""
    actual, predicted = np.unravel_index(int(off.argmax()), off.shape)
    return f"{int(off[actual, predicted]):,} {classes[actual]} taken for {classes[predicted]}"


def confident_mistakes(frame: pd.DataFrame, limit: int = 10) -> pd.DataFrame:
    """Labelled rows the model got wrong, the surest first."""
    known = labelled(frame)
    wrong = known[known["label"] != known["predicted"]].copy()
    wrong["confidence"] = confidence(wrong)
    return wrong.sort_values("confidence", ascending=False).head(limit)


def trends(frame: pd.DataFrame, frequency: str) -> pd.DataFrame:
    """Per time bucket: predictions, mean confidence, labels back, accuracy (None if few)."""
    data = pd.DataFrame(
        {
            "predictions": 1,
            "confidence": confidence(frame).to_numpy(),
            "labelled": frame["label"].notna().to_numpy(),
            "correct": (frame["label"] == frame["predicted"]).to_numpy(),
        },
        index=pd.DatetimeIndex(frame["created_at"]),
    )
    grouped = data.resample(frequency)
    result = pd.DataFrame(
        {
            "predictions": grouped["predictions"].sum(),
            "confidence": grouped["confidence"].mean(),
            "labelled": grouped["labelled"].sum(),
            "correct": grouped["correct"].sum(),
        }
    )
    enough = result["labelled"] >= MIN_LABELS_FOR_ACCURACY
    result["accuracy"] = np.where(
        enough, result["correct"] / result["labelled"].clip(lower=1), np.nan
    )
    return result


def drift_over_time(
    frame: pd.DataFrame, features: pd.DataFrame, profile: TrainingProfile, frequency: str
) -> pd.DataFrame:
    """PSI of each feature per time bucket against the training profile (NaN: too few rows)."""
    times = pd.DatetimeIndex(frame.loc[features.index, "created_at"])
    buckets = times.floor(frequency) if frequency != "1D" else times.normalize()
    result: dict[str, dict[Any, float]] = {}
    for name in features.columns:
        reference = profile.reference_shares(name)
        labels = profile.bin_labels(name)
        bins = profile.bin_indices(
            name,
            features[name].to_numpy(dtype=object if _categorical(profile, name) else np.float64),
        )
        per_bucket: dict[Any, float] = {}
        for bucket in sorted(set(buckets)):
            chosen = bins[(buckets == bucket) & (bins >= 0)]
            if len(chosen) < MIN_ROWS_FOR_DRIFT:
                per_bucket[bucket] = np.nan
                continue
            counts = np.bincount(chosen, minlength=len(labels))
            per_bucket[bucket] = psi(reference, dict(zip(labels, counts.tolist(), strict=True)))
        result[name] = per_bucket
    return pd.DataFrame(result)


def _categorical(profile: TrainingProfile, name: str) -> bool:
    return not isinstance(profile.feature(name), NumericProfile)


def canary_history(frame: pd.DataFrame, frequency: str) -> pd.DataFrame:
    """Share of predictions per "version (track)" and time bucket."""
    key = frame["version"].astype(str) + " (" + frame["track"].astype(str) + ")"
    times = pd.DatetimeIndex(frame["created_at"])
    counts = pd.crosstab(times.floor(frequency) if frequency != "1D" else times.normalize(), key)
    total = counts.sum(axis=1).astype(float)
    return counts.div(total, axis=0)


def importance(
    bundle: ModelBundle, features: pd.DataFrame, labels: pd.Series | None, *, seed: int = 0
) -> tuple[pd.Series, str]:
    """Permutation importance on the logged rows, and what it measures.

    With enough labels: the accuracy lost when a feature is shuffled. Without: the share
    of predictions that change, which needs no ground truth."""
    rng = np.random.default_rng(seed)
    if len(features) > IMPORTANCE_ROWS:
        keep = rng.choice(len(features), IMPORTANCE_ROWS, replace=False)
        features = features.iloc[np.sort(keep)]
        labels = labels.iloc[np.sort(keep)] if labels is not None else None
    classes = np.array(bundle.metadata.classes)
    base = classes[bundle.predict_proba(features).argmax(axis=1)]
    use_labels = labels is not None and labels.notna().sum() >= MIN_LABELS_FOR_ACCURACY
    known = labels.notna().to_numpy() if use_labels and labels is not None else None
    scores = {}
    for name in features.columns:
        shuffled = features.copy()
        shuffled[name] = features[name].to_numpy()[rng.permutation(len(features))]
        if isinstance(features[name].dtype, pd.CategoricalDtype):
            shuffled[name] = pd.Categorical(
                shuffled[name], categories=features[name].cat.categories
            )
        moved = classes[bundle.predict_proba(shuffled).argmax(axis=1)]
        if known is not None and labels is not None:
            truth = labels.to_numpy()[known]
            scores[name] = float(np.mean(base[known] == truth) - np.mean(moved[known] == truth))
        else:
            scores[name] = float(np.mean(moved != base))
    what = "accuracy lost" if known is not None else "share of predictions that change"
    return pd.Series(scores).sort_values(ascending=False), what


def fairness(
    frame: pd.DataFrame, features: pd.DataFrame, feature: str, terms: Terms
) -> pd.DataFrame:
    """Per group of ``feature``: rows, share flagged as the bad class, accuracy if known."""
    rows = frame.loc[features.index]
    groups = features[feature].astype(object).fillna("(missing)").to_numpy()
    flagged = (rows["predicted"] == terms.bad_class).to_numpy()
    has_label = rows["label"].notna().to_numpy()
    correct = (rows["label"] == rows["predicted"]).to_numpy()
    table = []
    for group in sorted(set(groups), key=str):
        mask = groups == group
        labelled_rows = int((mask & has_label).sum())
        table.append(
            {
                "group": str(group),
                "rows": int(mask.sum()),
                "flagged": float(flagged[mask].mean()),
                "labelled": labelled_rows,
                "accuracy": (
                    float(correct[mask & has_label].mean())
                    if labelled_rows >= MIN_LABELS_FOR_ACCURACY
                    else np.nan
                ),
            }
        )
    return pd.DataFrame(table)


def business_kpis(frame: pd.DataFrame, classes: list[str], terms: Terms) -> list[tuple[str, str]]:
    """Headline figures in business terms, computed from the logged predictions."""
    total = len(frame)
    known = labelled(frame)
    figures = [(f"{terms.items.capitalize()} checked by the model", f"{total:,}")]
    if terms.bad_class in classes:
        flagged = int((frame["predicted"] == terms.bad_class).sum())
        figures.append((f"Flagged as {terms.bad_class}", f"{flagged:,} ({_share(flagged, total)})"))
    if not known.empty:
        right = int((known["label"] == known["predicted"]).sum())
        figures.append(("Real outcomes received", f"{len(known):,} ({_share(len(known), total)})"))
        figures.append(("Model right on those", f"{right:,} ({_share(right, len(known))})"))
        if len(classes) == 2 and terms.bad_class in classes:
            good = classes[1 - classes.index(terms.bad_class)]
            slipped = int(
                ((known["label"] == terms.bad_class) & (known["predicted"] == good)).sum()
            )
            figures.append(
                (
                    f"{terms.bad_class.capitalize()} ones passed, per 1,000 known outcomes",
                    f"{1000 * slipped / len(known):.1f}",
                )
            )
    return figures


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "n/a"
