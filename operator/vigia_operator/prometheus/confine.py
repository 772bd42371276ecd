"""Confine a KPI's PromQL to its ModelDeployment's namespace, as prom-label-proxy does.

A KPI is a tenant's own PromQL run with the operator's Prometheus access. It is parsed
with a real PromQL parser (promql-parser), every vector selector (instant or range, at any
depth: in functions, aggregations, subqueries, binary operations) gets the matcher
``namespace="<own namespace>"``, and the tree is rendered back. A selector that already
matches ``namespace`` other than ``="<own namespace>"`` is refused, not silently
overridden (prom-label-proxy's ``-error-on-replace``): the KPI's author sees why it reads
nothing instead of reading numbers it did not ask for. What cannot be parsed, or rendered
back and re-parsed into the same confined selectors, is refused.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import promql_parser as promql

from vigia import metrics

NAMESPACE_LABEL = metrics.LABEL_NAMESPACE
_NAME = "__name__"
_LEGACY_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
# MatchOp is not hashable: a list of pairs, not a dict.
_OPS = (
    (promql.MatchOp.Equal, "="),
    (promql.MatchOp.NotEqual, "!="),
    (promql.MatchOp.Re, "=~"),
    (promql.MatchOp.NotRe, "!~"),
)


class Refused(ValueError):
    """The query cannot be confined to its namespace; the message says why."""


@dataclass(frozen=True)
class Matched:
    """One label matcher as plain values (comparable, renderable)."""

    name: str
    op: str
    value: str

    @classmethod
    def of(cls, matcher: promql.Matcher) -> Matched:
        op = next((text for kind, text in _OPS if matcher.op == kind), None)
        if op is None:
            raise Refused(f"unknown label matcher {matcher.op}")
        return cls(matcher.name, op, matcher.value)


@functools.lru_cache(maxsize=1024)
def confine(query: str, namespace: str) -> str:
    """``query`` with every selector restricted to ``namespace``; Refused otherwise."""
    try:
        tree = promql.parse(query)
    except ValueError as exc:
        raise Refused(f"not valid PromQL: {exc}") from None
    wanted: list[tuple[str | None, tuple[Matched, ...]]] = []

    def rewrite(node: promql.Expr) -> promql.Expr | None:
        if not isinstance(node, promql.VectorSelector):
            return None
        name, matchers = _confined(node, namespace)
        wanted.append(_normal(name, matchers))
        return _selector(name, matchers, node.offset, node.at)

    try:
        rendered: str = promql.transform(tree, rewrite, None).prettify()
    except Refused:
        raise
    except ValueError as exc:  # a selector rebuilt from its values does not parse
        raise Refused(f"could not be rendered back to valid PromQL: {exc}") from None
    _check(rendered, wanted, namespace)
    return rendered


def _confined(node: promql.VectorSelector,
              namespace: str) -> tuple[str | None, tuple[Matched, ...]]:
    if node.matchers.or_matchers:
        raise Refused(f"{node.prettify()}: 'or' between label matchers is not supported")
    kept: list[Matched] = []
    for m in node.matchers.matchers:
        matched = Matched.of(m)
        if matched.name != NAMESPACE_LABEL:
            kept.append(matched)
        elif matched.op != "=" or matched.value != namespace:
            raise Refused(
                f"{node.prettify()} matches {NAMESPACE_LABEL}{matched.op}{_quote(matched.value)};"
                f" a KPI reads only its own namespace ({NAMESPACE_LABEL}=\"{namespace}\")")
    kept.append(Matched(NAMESPACE_LABEL, "=", namespace))
    return node.name, tuple(kept)


def _selector(name: str | None, matchers: tuple[Matched, ...], offset: timedelta | None,
              at: promql.AtModifier | None) -> promql.Expr:
    """A parsed selector built from values, every string quoted here (the library's
    str() leaves quotes inside values unescaped)."""
    listed = list(matchers)
    prefix = ""
    if name is not None and _LEGACY_NAME.fullmatch(name):
        prefix = name
    elif name is not None:
        listed.insert(0, Matched(_NAME, "=", name))
    text = prefix + "{" + ",".join(f"{m.name}{m.op}{_quote(m.value)}" for m in listed) + "}"
    text += _at(at) + _offset(offset)
    return promql.parse(text)


def _at(at: promql.AtModifier | None) -> str:
    if at is None:
        return ""
    if at.type == promql.AtModifierType.Start:
        return " @ start()"
    if at.type == promql.AtModifierType.End:
        return " @ end()"
    moment = at.at if at.at is not None else datetime.fromtimestamp(0, UTC)
    return f" @ {moment.timestamp():.3f}"


def _offset(offset: timedelta | None) -> str:
    if offset is None or offset == timedelta(0):
        return ""
    sign = "-" if offset < timedelta(0) else ""
    return f" offset {sign}{promql.display_duration(abs(offset))}"


def _quote(value: str) -> str:
    """A PromQL double-quoted string (Go escapes)."""
    escaped = []
    for ch in value:
        if ch in ('"', "\\"):
            escaped.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            escaped.append(f"\\u{ord(ch):04x}")
        else:
            escaped.append(ch)
    return '"' + "".join(escaped) + '"'


def _normal(name: str | None,
            matchers: tuple[Matched, ...]) -> tuple[str | None, tuple[Matched, ...]]:
    """One spelling of a selector: the metric name apart, whether written before the
    braces or as a ``__name__=`` matcher; the matchers in order (the parser sorts them)."""
    named = [m for m in matchers if m.name == _NAME and m.op == "="]
    if name is None and len(named) == 1:
        name, matchers = named[0].value, tuple(m for m in matchers if m is not named[0])
    return name, tuple(sorted(matchers, key=lambda m: (m.name, m.op, m.value)))


def _check(rendered: str, wanted: list[tuple[str | None, tuple[Matched, ...]]],
           namespace: str) -> None:
    """Re-parse what will be sent: the same selectors, in order, each confined."""
    found: list[tuple[str | None, tuple[Matched, ...]]] = []

    def collect(node: promql.Expr) -> None:
        if isinstance(node, promql.VectorSelector):
            matchers = tuple(Matched.of(m) for m in node.matchers.matchers)
            found.append(_normal(node.name, matchers))

    try:
        promql.walk(promql.parse(rendered), collect, None)
    except ValueError as exc:
        raise Refused(f"could not be rendered back to valid PromQL: {exc}") from None
    if found != wanted:
        raise Refused("could not be rendered back with the same selectors")
    for _, matchers in found:
        spaces = [m for m in matchers if m.name == NAMESPACE_LABEL]
        if spaces != [Matched(NAMESPACE_LABEL, "=", namespace)]:
            raise Refused("could not be confined to its namespace")
