from __future__ import annotations

import re

import numpy as np

from vigia.report import figures
from vigia.report.analysis import Confusion
from vigia.report.page import CSP, Page, Section, render, table


def test_page_escapes_text_and_forbids_every_fetch() -> None:
    page = Page(
        title="How <b>x</b> is doing",
        meta="m",
        headline=[("rows", "1")],
        sections=[Section("s", "T", lede="a < b", parts=[table(["h"], [["<script>"]])])],
    )
    html = render(page)
    assert "<script" not in html.replace("&lt;script&gt;", "")
    assert "How &lt;b&gt;x&lt;/b&gt; is doing" in html
    assert f'content="{CSP}"' in html and "default-src 'none'" in CSP


def test_empty_section_says_why() -> None:
    html = render(Page("t", "m", [], [Section("drift", "Drift", empty="Feature logging is off")]))
    assert '<p class="empty">Feature logging is off</p>' in html


def test_figures_are_inline_svg_with_unique_ids_and_no_external_reference() -> None:
    confusion = Confusion(["defective", "good"], np.array([[5, 1], [2, 30]]), "s")
    first = figures.confusion_figure(confusion, "items")
    assert first.startswith("<svg ") and first.rstrip().endswith("</svg>")
    urls = set(re.findall(r"(?:href|src)=\"(https?:[^\"]*)\"", first))
    assert urls == set()
    assert not re.search(r"@font-face|url\(http", first)
    assert "30" in first  # counts are text, not paths: fonttype none
    second = figures.importance_figure(__import__("pandas").Series({"a": 0.1, "b": 0.2}), "x")
    ids = lambda svg: set(re.findall(r'id="([^"]+)"', svg))  # noqa: E731
    assert not (ids(first) & ids(second))
