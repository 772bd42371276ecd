"""A KPI's PromQL confined to its namespace: every selector, at any depth, or refused."""

from __future__ import annotations

import promql_parser as promql
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vigia_operator.prometheus.confine import Refused, confine

NS = "team-a"


def selectors(query: str) -> list[promql.VectorSelector]:
    """Every vector selector of ``query`` as the parser reads it (range ones included)."""
    found: list[promql.VectorSelector] = []

    def visit(node: promql.Expr) -> None:
        if isinstance(node, promql.VectorSelector):
            found.append(node)

    promql.walk(promql.parse(query), visit, None)
    return found


def namespaces(selector: promql.VectorSelector) -> list[tuple[str, str]]:
    return [(str(m.op), m.value) for m in selector.matchers.matchers if m.name == "namespace"]


SHAPES = [
    ("vigia_predictions_total", 1),
    ('vigia_predictions_total{model="iris", class="defective"}', 1),
    ("rate(vigia_predictions_total[5m])", 1),
    ("sum by (class) (rate(vigia_predictions_total[5m]))", 1),
    ("sum(rate(a[5m])) / sum(rate(b[5m]))", 2),
    ("a / on (model) group_left (class) b", 2),
    ("a and ignoring (x) b unless on (y) c or d", 4),
    ("max_over_time(rate(a[5m])[1h:1m])", 1),
    ("max_over_time((a - b)[30m:])", 2),
    ("histogram_quantile(0.9, sum by (le) (rate(vigia_confidence_bucket[5m])))", 1),
    ('label_replace(up, "namespace", "other", "", "")', 1),
    ('count_values("value", a)', 1),
    ("topk(1, a) + bottomk(1, b)", 2),
    ("quantile(0.5, a)", 1),
    ("-a > bool 3", 1),
    ("(((a)))", 1),
    ('{__name__=~"vigia_.+"}', 1),
    ("absent(a)", 1),
    ("a @ start() offset -5m", 1),
    ("a offset 1h @ 1700000000.5", 1),
    ("scalar(sum(a)) * vector(2)", 1),
    ('a{namespace="team-a"} / b', 2),
]


@pytest.mark.parametrize(("query", "count"), SHAPES)
def test_every_selector_gets_the_namespace_matcher(query: str, count: int) -> None:
    confined = confine(query, NS)
    found = selectors(confined)
    assert len(found) == count
    assert all(namespaces(s) == [("MatchOp.Equal", NS)] for s in found), confined


def shape(selector: promql.VectorSelector) -> tuple[object, ...]:
    """A selector less its namespace matcher."""
    kept = sorted((m.name, str(m.op), m.value) for m in selector.matchers.matchers
                  if m.name != "namespace")
    at = selector.at
    return (selector.name, kept, selector.offset,
            None if at is None else (str(at.type), at.at))


@pytest.mark.parametrize(("query", "count"), SHAPES)
def test_the_rest_of_the_query_is_unchanged(query: str, count: int) -> None:
    confined = confine(query, NS)
    assert [shape(s) for s in selectors(confined)] == [shape(s) for s in selectors(query)]
    # And around the selectors: the text less the injected matcher is the original's.
    original = promql.parse(query).prettify().replace(f'{{namespace="{NS}"}}', "")
    stripped = confined.replace(f',namespace="{NS}"', "").replace(f'{{namespace="{NS}"}}', "")
    assert stripped.split() == original.split()  # long queries are rendered on several lines


def test_no_selector_no_change() -> None:
    assert confine("vector(1) + time()", NS) == "vector(1) + time()"


def test_values_with_quotes_cannot_break_out_of_their_string() -> None:
    # One selector whose value is `x"} or b{c="y`: rendered unescaped, it would become a
    # second, unconfined selector.
    query = r'a{l="x\"} or b{c=\"y"}'
    confined = confine(query, NS)
    (only,) = selectors(confined)
    assert [m.value for m in only.matchers.matchers if m.name == "l"] == ['x"} or b{c="y']
    assert namespaces(only) == [("MatchOp.Equal", NS)]


def test_backslashes_and_newlines_survive() -> None:
    confined = confine('a{l="back\\\\slash\\nnew"}', NS)
    (only,) = selectors(confined)
    assert [m.value for m in only.matchers.matchers if m.name == "l"] == ["back\\slash\nnew"]


def test_a_name_that_is_not_an_identifier_becomes_a_name_matcher() -> None:
    confined = confine('{__name__="a", l="v"}', NS)
    (only,) = selectors(confined)
    assert namespaces(only) == [("MatchOp.Equal", NS)]


@pytest.mark.parametrize("query", [
    'a{namespace="team-b"}',
    'sum(rate(a{namespace="team-b"}[5m])) / sum(rate(a[5m]))',
    'a{namespace=~"team-.*"}',
    'a{namespace!="team-b"}',
    'a{namespace!~"x"}',
    'a{namespace=~"team-a"}',  # the same set, but not written as equality: refused all the same
    'max_over_time(a{namespace="kube-system"}[1h:1m])',
])
def test_another_namespace_is_refused_naming_it(query: str) -> None:
    with pytest.raises(Refused, match="reads only its own namespace"):
        confine(query, NS)


@pytest.mark.parametrize(("query", "why"), [
    ("sum(", "not valid PromQL"),
    ("a{", "not valid PromQL"),
    ("", "not valid PromQL"),
    ('a{l="1" or m="2"}', "'or' between label matchers"),
])
def test_what_cannot_be_confined_is_refused(query: str, why: str) -> None:
    with pytest.raises(Refused, match=why):
        confine(query, NS)


PIECES = ['sum(', ')', 'rate(', 'a', 'b{', '}', '[5m]', '[1h:1m]', ' offset 1m', ' @ 100',
          '"', "\\", 'x="y"', ",", 'namespace="team-a"', 'namespace="team-b"', " + ",
          " / on(a) ", " or ", '{"q.r"="1"}', '{"a.b"}', "1", "by (x)", "=~", '"\\""', "é"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(PIECES), min_size=1, max_size=12))
def test_any_text_is_confined_or_refused_never_sent_otherwise(pieces: list[str]) -> None:
    query = "".join(pieces)
    try:
        confined = confine(query, NS)
    except Refused:
        return
    assert all(namespaces(s) == [("MatchOp.Equal", NS)] for s in selectors(confined)), confined
