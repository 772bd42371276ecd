"""The report's figures: matplotlib rendered to SVG, inlined in the page.

Why matplotlib and SVG: the figures are static facts, not dashboards, so no JavaScript
is needed; an inline SVG needs nothing from the network, prints sharply, and keeps the
page small (tens of kB per figure instead of a 3-4 MB JavaScript plotting bundle per
file). Text stays text (``svg.fonttype = none``) in the page's own system font, so no
font is embedded or fetched. matplotlib is a Python dependency: it ships with Vigía.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from vigia.calibration.check import ReliabilityBin
from vigia.report.analysis import Confusion
from vigia.report.sources import Series

BLUE, ORANGE, GREY, RED, GREEN = "#1f5fa8", "#d9822b", "#8a94a6", "#b3261e", "#2e7d32"
PALETTE = [BLUE, ORANGE, GREEN, RED, "#7b4ea3", "#00838f", GREY]
DRIFT_WARN, DRIFT_ALARM = 0.1, 0.2  # the customary PSI bands
STYLE: Any = {  # matplotlib's stubs type rc keys as literals
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.size": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.color": "#e4e7ec",
    "axes.edgecolor": "#8a94a6",
}
_PREAMBLE = re.compile(r"^.*?(?=<svg)", re.S)


def to_svg(figure: Figure, name: str, *, wide: bool = True) -> str:
    """The figure as an inline ``<svg>`` element; ``name`` keeps its element ids unique.
    A wide figure takes the width of its section."""
    buffer = io.StringIO()
    salt: Any = {"svg.hashsalt": name}
    with plt.rc_context(salt):
        figure.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(figure)
    svg = _scope_ids(_PREAMBLE.sub("", buffer.getvalue(), count=1), name)
    kind = "figure wide" if wide else "figure"
    return svg.replace("<svg ", f'<svg role="img" aria-label="{name}" class="{kind}" ', 1)


def _scope_ids(svg: str, name: str) -> str:
    """Prefix every element id and reference with ``name``: many figures share one page."""
    prefix = re.sub(r"[^A-Za-z0-9_-]", "-", name) + "-"
    svg = svg.replace(' id="', f' id="{prefix}')
    svg = svg.replace('href="#', f'href="#{prefix}')
    return svg.replace("url(#", f"url(#{prefix}")


def _figure(width: float = 7.5, height: float = 3.0, rows: int = 1) -> tuple[Figure, np.ndarray]:
    with plt.rc_context(STYLE):
        figure, axes = plt.subplots(rows, 1, figsize=(width, height), squeeze=False)
    return figure, axes[:, 0]


def confusion_figure(confusion: Confusion, items: str, name: str = "confusion") -> str:
    with plt.rc_context(STYLE):
        n = len(confusion.classes)
        figure, ax = plt.subplots(figsize=(1.6 + 1.3 * n, 1.2 + 1.0 * n))
        counts = confusion.counts
        ax.imshow(counts, cmap="Blues", vmin=0)
        ax.grid(False)
        ax.set_xticks(range(n), [f"taken for\n{c}" for c in confusion.classes])
        ax.set_yticks(range(n), [f"really\n{c}" for c in confusion.classes])
        high = counts.max() if counts.size else 0
        for (i, j), value in np.ndenumerate(counts):
            color = "white" if value > high / 2 else "#1d2430"
            ax.text(j, i, f"{value:,}\n{items}", ha="center", va="center", color=color)
        ax.set_title(f"{int(counts.sum()):,} {items} with a known outcome", fontsize=10)
        return to_svg(figure, name, wide=False)


def trends_figure(trends: pd.DataFrame, items: str) -> str:
    with plt.rc_context(STYLE):
        figure, (volume, quality) = _figure(height=4.6, rows=2)
        width = _bar_width(trends.index)
        volume.bar(trends.index, trends["predictions"], width=width, color=BLUE)
        volume.set_ylabel(f"{items} per bucket")
        quality.plot(
            trends.index, trends["confidence"], marker=".", color=ORANGE, label="mean confidence"
        )
        if trends["accuracy"].notna().any():
            quality.plot(
                trends.index,
                trends["accuracy"],
                marker="o",
                color=GREEN,
                label="accuracy (from real outcomes)",
            )
        quality.set_ylim(0, 1.02)
        quality.legend(loc="lower left", frameon=False)
        figure.autofmt_xdate()
        return to_svg(figure, "trends")


def drift_figure(drift: pd.DataFrame, top: int = 6) -> str:
    with plt.rc_context(STYLE):
        figure, (ax,) = _figure(height=3.4)
        worst = drift.max().sort_values(ascending=False).index[:top]
        for color, name in zip(PALETTE, worst, strict=False):
            ax.plot(drift.index, drift[name], marker=".", color=color, label=name)
        ax.axhspan(DRIFT_WARN, DRIFT_ALARM, color=ORANGE, alpha=0.08)
        ax.axhline(DRIFT_ALARM, color=RED, linewidth=1, linestyle="--")
        ax.text(drift.index[0], DRIFT_ALARM, " alarm (PSI 0.2)", color=RED, va="bottom", fontsize=8)
        ax.set_ylabel("PSI against training")
        ax.set_ylim(bottom=0)
        ax.legend(loc="upper left", frameon=False, fontsize=8, ncol=2)
        figure.autofmt_xdate()
        return to_svg(figure, "drift")


def canary_figure(shares: pd.DataFrame) -> str:
    with plt.rc_context(STYLE):
        figure, (ax,) = _figure(height=2.8)
        ax.stackplot(
            shares.index,
            shares.fillna(0).T.to_numpy(),
            labels=list(shares.columns),
            colors=PALETTE[: len(shares.columns)],
            alpha=0.85,
        )
        ax.set_ylim(0, 1)
        ax.set_ylabel("share of predictions")
        ax.legend(loc="lower left", frameon=True, fontsize=8)
        figure.autofmt_xdate()
        return to_svg(figure, "canary")


def importance_figure(scores: pd.Series, what: str) -> str:
    with plt.rc_context(STYLE):
        figure, (ax,) = _figure(height=0.5 + 0.28 * len(scores))
        ordered = scores.sort_values()
        ax.barh([n.replace("_", " ") for n in ordered.index], ordered.to_numpy(), color=BLUE)
        ax.set_xlabel(what + " when the feature is shuffled")
        return to_svg(figure, "importance")


def fairness_figure(
    table: pd.DataFrame, feature: str, bad_class: str | None, xlabel: str | None = None
) -> str:
    with plt.rc_context(STYLE):
        figure, (ax,) = _figure(width=5.5, height=0.6 + 0.35 * len(table))
        ax.barh(table["group"], table["flagged"], color=ORANGE)
        default = f"share flagged as {bad_class}" if bad_class else "share flagged"
        ax.set_xlabel(xlabel or default)
        ax.set_title(feature.replace("_", " "), fontsize=10)
        ax.set_xlim(0, max(0.05, float(table["flagged"].max()) * 1.2))
        return to_svg(figure, f"fairness-{feature}", wide=False)


def reliability_figure(bins: Sequence[ReliabilityBin]) -> str:
    """The reliability diagram: per bin of top probability, the share predicted right
    against the mean probability (the diagonal is a perfectly calibrated model)."""
    shown = [b for b in bins if b.rows and b.confidence is not None and b.accuracy is not None]
    with plt.rc_context(STYLE):
        figure, (ax,) = _figure(width=4.5, height=3.4)
        ax.plot([0, 1], [0, 1], color=GREY, linestyle="--", linewidth=1,
                label="calibrated")
        ax.plot([b.confidence for b in shown], [b.accuracy for b in shown], marker="o",
                color=BLUE, label="the model (holdout)")
        for b in shown:
            ax.annotate(str(b.rows), (b.confidence or 0.0, b.accuracy or 0.0), fontsize=7,
                        xytext=(3, -9), textcoords="offset points")
        ax.set_xlabel("probability of the predicted class")
        ax.set_ylabel("share predicted right")
        low = min([0.5, *(min(b.confidence or 1.0, b.accuracy or 1.0) for b in shown)])
        ax.set_xlim(low - 0.02, 1.01)
        ax.set_ylim(low - 0.02, 1.01)
        ax.legend(loc="upper left", frameon=False, fontsize=8)
        return to_svg(figure, "reliability", wide=False)


def series_figure(series: list[Series], name: str, ylabel: str) -> str:
    with plt.rc_context(STYLE):
        figure, (ax,) = _figure(height=2.8)
        for color, one in zip(PALETTE * 3, series, strict=False):
            label = ", ".join(f"{k}={v}" for k, v in sorted(one.labels.items())) or name
            ax.plot(one.times, one.values, color=color, label=label)
        ax.set_ylabel(ylabel)
        if len(series) > 1:
            ax.legend(loc="upper left", frameon=False, fontsize=8)
        figure.autofmt_xdate()
        return to_svg(figure, name)


def _bar_width(index: pd.Index) -> float:
    if len(index) < 2:
        return 0.03
    step = (index[1] - index[0]).total_seconds() / 86400  # matplotlib dates are in days
    return 0.8 * step
