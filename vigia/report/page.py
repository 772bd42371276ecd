"""The report as one HTML file: inline CSS and SVG, no script, no external resource.

The Content-Security-Policy forbids every fetch (``default-src 'none'``), so even a
browser that tried could not load anything from outside the file.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
CSS = """
body { font: 15px/1.5 system-ui, sans-serif; color: #1d2430; background: #f6f7f9; margin: 0; }
main { max-width: 980px; margin: 0 auto; padding: 8px 20px 40px; }
h1 { font-size: 26px; margin: 16px 0 4px; } h2 { font-size: 19px; margin: 0 0 6px; }
.meta { color: #5b6576; margin: 0 0 14px; }
section { background: #fff; border: 1px solid #dde1e7; border-radius: 8px; padding: 14px 18px;
  margin: 14px 0; }
.lede { font-size: 16px; margin: 4px 0 10px; }
.empty { color: #8a4b00; background: #fff6e5; border-radius: 6px; padding: 8px 12px; }
.kpis { display: grid; grid-template-columns: repeat(auto-fill, minmax(210px, 1fr)); gap: 10px; }
.kpi { border: 1px solid #e4e7ec; border-radius: 6px; padding: 8px 12px; }
.kpi b { display: block; font-size: 22px; } .kpi span { color: #5b6576; font-size: 13px; }
table { border-collapse: collapse; font-size: 13px; margin: 6px 0; }
th, td { text-align: left; padding: 3px 10px 3px 0; border-bottom: 1px solid #e4e7ec; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
svg.figure { max-width: 100%; height: auto; display: block; margin: 6px 0; }
svg.figure.wide { width: 100%; }
.figures { display: flex; flex-wrap: wrap; gap: 12px; }
.note { font-size: 13px; color: #5b6576; }
"""


@dataclass
class Section:
    """One part of the report; ``empty`` says why it has nothing to show."""

    key: str
    title: str
    lede: str = ""
    parts: list[str] = field(default_factory=list)  # HTML fragments (escaped already)
    empty: str | None = None


@dataclass
class Page:
    title: str
    meta: str
    headline: list[tuple[str, str]]
    sections: list[Section]


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def table(
    header: Sequence[str], rows: Sequence[Sequence[object]], numeric: set[int] | None = None
) -> str:
    numeric = numeric or set()
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="n">{esc(v)}</td>' if i in numeric else f"<td>{esc(v)}</td>"
            for i, v in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render(page: Page) -> str:
    headline = "".join(
        f'<div class="kpi"><b>{esc(value)}</b><span>{esc(name)}</span></div>'
        for name, value in page.headline
    )
    sections = "".join(_section(s) for s in page.sections)
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(page.title)}</title><style>{CSS}</style></head><body><main>"
        f'<h1>{esc(page.title)}</h1><p class="meta">{esc(page.meta)}</p>'
        f'<section id="headline"><div class="kpis">{headline}</div></section>'
        f"{sections}</main></body></html>\n"
    )


def _section(section: Section) -> str:
    lede = f'<p class="lede">{esc(section.lede)}</p>' if section.lede else ""
    empty = f'<p class="empty">{esc(section.empty)}</p>' if section.empty else ""
    return (
        f'<section id="{esc(section.key)}"><h2>{esc(section.title)}</h2>{lede}{empty}'
        + "".join(section.parts)
        + "</section>"
    )
