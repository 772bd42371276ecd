"""A report from a bundle, its logged predictions and (optionally) Prometheus."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from vigia import metrics
from vigia.bundle import ModelBundle
from vigia.costs import CostTable
from vigia.features import FeatureSchema
from vigia.report import analysis, figures
from vigia.report.analysis import Terms
from vigia.report.page import Page, Section, esc, render, table
from vigia.report.sources import (
    MetricsSource,
    MetricsUnavailableError,
    NoMetrics,
    PredictionSource,
    Window,
)

POINTS = 120  # samples per Prometheus range query


@dataclass(frozen=True)
class ReportRequest:
    model: str
    window: Window
    terms: Terms = field(default_factory=Terms)
    sensitive: tuple[str, ...] = ()  # categorical features to compare groups by
    kpis: Mapping[str, str] = field(default_factory=dict)  # name -> PromQL
    costs: CostTable | None = None  # each error's cost (spec.monitoring.costs)


@dataclass(frozen=True)
class Report:
    html: str
    rows: int
    seconds: float
    sections: tuple[str, ...]
    empty: tuple[str, ...]


def build_report(
    bundle: ModelBundle,
    predictions: PredictionSource,
    request: ReportRequest,
    metrics_source: MetricsSource | None = None,
) -> Report:
    started = time.perf_counter()
    frame = predictions.predictions(request.model, request.window)
    meta = bundle.metadata
    window = request.window
    span = f"{window.start:%Y-%m-%d %H:%M} to {window.end:%Y-%m-%d %H:%M} UTC"
    if frame.empty:
        sections = [_no_data(request.model, span)]
        headline = [("Predictions in the window", "0")]
    else:
        sections = _sections(bundle, frame, request)
        headline = analysis.business_kpis(frame, list(meta.classes), request.terms)
    sections += _metric_sections(request, metrics_source or NoMetrics())
    versions = ", ".join(sorted(frame["version"].astype(str).unique())) if len(frame) else "-"
    page = Page(
        title=f"How {request.model} is doing",
        meta=f"{span} · versions served: {versions} · bundle {meta.name} {meta.version} · "
        f"generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        headline=headline,
        sections=sections,
    )
    return Report(
        html=render(page),
        rows=len(frame),
        seconds=time.perf_counter() - started,
        sections=tuple(s.key for s in sections),
        empty=tuple(s.key for s in sections if s.empty),
    )


def write_report(report: Report, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(report.html, encoding="utf-8")
    return path


def _no_data(model: str, span: str) -> Section:
    return Section(
        "no-data",
        "No predictions in this window",
        empty=f"The prediction store has no prediction of model {model!r} from {span}. "
        "Nothing is plotted: widen the window, or check that the model server logs to this "
        "store (VIGIA_STORE_URL) and that feature logging is on.",
    )


def _sections(bundle: ModelBundle, frame: pd.DataFrame, request: ReportRequest) -> list[Section]:
    meta = bundle.metadata
    terms = request.terms
    frequency = analysis.bucket_frequency(request.window.seconds)
    features = analysis.feature_frame(frame, meta.schema)
    builders: list[Callable[[], Section]] = [
        lambda: _confusion(frame, list(meta.classes), terms, request.costs),
        lambda: _calibration(bundle),
        lambda: _mistakes(frame, terms),
        lambda: _trends(frame, frequency, terms),
        lambda: _drift(frame, features, bundle, frequency),
        lambda: _canary(frame, frequency),
        lambda: _importance(bundle, frame, features),
        lambda: _fairness(frame, features, meta.schema, request),
    ]
    return [build() for build in builders]


def _confusion(frame: pd.DataFrame, classes: list[str], terms: Terms,
               costs: CostTable | None = None) -> Section:
    section = Section("confusion", "What the model got right and wrong")
    confusion = analysis.confusion(frame, classes, terms)
    if confusion is None:
        section.empty = (
            "No real outcome came back for these predictions (POST /feedback), so right and "
            "wrong cannot be counted yet."
        )
        return section
    cost = None if costs is None else analysis.cost_sentence(frame, costs)
    section.lede = " ".join(part for part in (
        confusion.sentence, cost, analysis.class_rates_sentence(confusion, terms)) if part)
    section.parts.append(figures.confusion_figure(confusion, terms.items))
    return section


def _calibration(bundle: ModelBundle) -> Section:
    """The bundle's calibration check: whether the model's probabilities say how often it
    is right, hence whether Vigía can estimate its accuracy without labels."""
    section = Section("calibration", "Can its confidence be trusted?")
    check = bundle.metadata.calibration
    if check is None:
        section.empty = ("This model was bundled without a holdout, so how well its confidence "
                         "matches how often it is right was never checked; Vigía gives no "
                         "accuracy estimate without labels for it.")
        return section
    measured = (f"On {check.rows:,} held-out rows its stated confidence was off by "
                f"{check.ece_raw:.1%} on average; corrected on those rows, by {check.ece:.1%}")
    if check.estimable:
        section.lede = (f"{measured}. Vigía therefore estimates its accuracy before the real "
                        "outcomes arrive. The estimate cannot see a change in what makes an "
                        "item good or bad when the inputs look the same: only outcomes show "
                        "that.")
    else:
        section.lede = (f"{measured}, more than the {check.ece_max:.0%} allowed: no accuracy "
                        f"estimate without labels for this model ({check.reason}).")
    section.parts.append(figures.reliability_figure(check.bins))
    return section


def _mistakes(frame: pd.DataFrame, terms: Terms) -> Section:
    section = Section("mistakes", "Mistakes made while most sure")
    wrong = analysis.confident_mistakes(frame)
    if wrong.empty:
        section.empty = "No known mistakes: no real outcome came back, or every one was right."
        return section
    section.lede = (
        f"The {len(wrong)} {terms.items} the model was surest about and still got wrong: "
        "worth a look, they often show a missing feature or a labelling problem."
    )
    rows = [
        [
            f"{r.created_at:%Y-%m-%d %H:%M}",
            r.predicted,
            r.label,
            f"{r.confidence:.0%}",
            _brief(r.features),
        ]
        for r in wrong.itertuples()
    ]
    section.parts.append(table(["when", "model said", "really", "sure", "inputs"], rows, {3}))
    return section


def _brief(features: object, limit: int = 6) -> str:
    if not isinstance(features, dict):
        return "(not logged)"
    items = list(features.items())[:limit]
    text = ", ".join(f"{k}={_value(v)}" for k, v in items)
    return text + (", …" if len(features) > limit else "")


def _value(value: object) -> str:
    if value is None:
        return "missing"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _trends(frame: pd.DataFrame, frequency: str, terms: Terms) -> Section:
    section = Section("trends", "Volume, confidence and accuracy over time")
    trends = analysis.trends(frame, frequency)
    labelled = int(trends["labelled"].sum())
    accuracy = (
        f" Accuracy is drawn where at least {analysis.MIN_LABELS_FOR_ACCURACY} real outcomes "
        f"came back in a bucket ({labelled:,} in all)."
    )
    section.lede = f"{len(frame):,} {terms.items} in buckets of {frequency}." + accuracy
    section.parts.append(figures.trends_figure(trends, terms.items))
    return section


def _drift(
    frame: pd.DataFrame, features: pd.DataFrame, bundle: ModelBundle, frequency: str
) -> Section:
    section = Section("drift", "Are the inputs still like the training data?")
    if features.empty:
        section.empty = "Feature logging is off for these predictions: drift cannot be shown."
        return section
    drift = analysis.drift_over_time(frame, features, bundle.metadata.profile, frequency)
    if drift.isna().all().all():
        section.empty = (
            f"Fewer than {analysis.MIN_ROWS_FOR_DRIFT} logged rows per {frequency} bucket: too "
            "few to measure drift."
        )
        return section
    worst = drift.max().sort_values(ascending=False)
    top = ", ".join(f"{str(n).replace('_', ' ')} ({v:.2f})" for n, v in worst.head(3).items())
    alarmed = int((worst > figures.DRIFT_ALARM).sum())
    section.lede = (
        f"Population stability index (PSI) per feature and {frequency}, against the training "
        f"data; above 0.2 the inputs have clearly moved. Most moved: {top}. "
        f"{alarmed} feature(s) crossed 0.2."
    )
    section.parts.append(figures.drift_figure(drift))
    return section


def _canary(frame: pd.DataFrame, frequency: str) -> Section:
    section = Section("canary", "Versions and canaries")
    shares = analysis.canary_history(frame, frequency)
    rows = []
    for key, group in frame.groupby(["version", "track"]):
        version, track = (str(k) for k in key)
        known = group[group["label"].notna()]
        accuracy = f"{(known['label'] == known['predicted']).mean():.1%}" if len(known) else "n/a"
        rows.append([version, track, f"{len(group):,}", f"{len(known):,}", accuracy])
    section.lede = "Which version answered, on which track, and how well each did."
    section.parts.append(
        table(["version", "track", "predictions", "outcomes", "accuracy"], rows, {2, 3, 4})
    )
    if len(shares.columns) > 1 or len(shares) > 1:
        section.parts.append(figures.canary_figure(shares))
    return section


def _importance(bundle: ModelBundle, frame: pd.DataFrame, features: pd.DataFrame) -> Section:
    section = Section("importance", "What drives the predictions")
    if features.empty:
        section.empty = "Feature logging is off for these predictions: importance needs inputs."
        return section
    labels = frame.loc[features.index, "label"]
    scores, what = analysis.importance(bundle, features, labels)
    section.lede = (
        f"Permutation importance on {min(len(features), analysis.IMPORTANCE_ROWS):,} logged "
        f"rows: the {what} when one feature's values are shuffled."
    )
    section.parts.append(figures.importance_figure(scores, what))
    return section


def _fairness(
    frame: pd.DataFrame, features: pd.DataFrame, schema: FeatureSchema, request: ReportRequest
) -> Section:
    section = Section("fairness", "Fairness by group")
    names = request.sensitive or tuple(f.name for f in schema.features if f.kind == "categorical")
    if features.empty or not names:
        section.empty = "No categorical feature to compare groups by (--sensitive)."
        return section
    bad = request.terms.bad_class
    section.lede = (
        f"How often each group is flagged as {bad} and how often the model is right for it. "
        "Large gaps between groups deserve a look."
        if bad
        else "How the predictions and accuracy differ between groups."
    )
    parts = []
    for name in names:
        if name not in features.columns:
            raise ValueError(f"--sensitive: no feature {name!r} in the model's schema")
        groups = analysis.fairness(frame, features, name, request.terms)
        gap = float(groups["flagged"].max() - groups["flagged"].min())
        rows = [
            [
                g["group"],
                f"{g['rows']:,}",
                f"{g['flagged']:.1%}",
                f"{g['labelled']:,}",
                "n/a" if pd.isna(g["accuracy"]) else f"{g['accuracy']:.1%}",
            ]
            for g in groups.to_dict(orient="records")
        ]
        parts.append(
            "<div>"
            + figures.fairness_figure(groups, name, bad)
            + table([name, "rows", "flagged", "outcomes", "accuracy"], rows, {1, 2, 3, 4})
            + f'<p class="note">Largest gap in flagged share: {gap:.1%}.</p></div>'
        )
    section.parts.append('<div class="figures">' + "".join(parts) + "</div>")
    return section


def _metric_sections(request: ReportRequest, source: MetricsSource) -> list[Section]:
    selector = f'{{{metrics.LABEL_MODEL}="{request.model}"}}'
    step = max(request.window.seconds / POINTS, 15.0)
    rate = f"{int(max(2 * step, 60))}s"
    queries = {
        "Predictions per second by version and track": (
            f"sum by ({metrics.LABEL_VERSION}, {metrics.LABEL_TRACK}) "
            f"(rate({metrics.PREDICTIONS_SERIES}{selector}[{rate}]))",
            "predictions / s",
        ),
        **{f"KPI: {name}": (query, name) for name, query in request.kpis.items()},
    }
    section = Section("prometheus", "Live metrics and business KPIs (Prometheus)")
    try:
        for title, (query, unit) in queries.items():
            series = source.range_query(query, request.window, step)
            if not series:
                section.parts.append(f'<p class="empty">{esc(title)}: no data in this window.</p>')
                continue
            section.parts.append(f"<h3>{esc(title)}</h3>")
            section.parts.append(figures.series_figure(series, _slug(title), unit))
    except MetricsUnavailableError as exc:
        section.parts.clear()
        section.empty = f"Not shown: {exc}."
    return [section]


def _slug(title: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in title.lower()).strip("-")
