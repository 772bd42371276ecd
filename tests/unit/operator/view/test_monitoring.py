"""spec.monitoring view: CRD defaults and errors naming the field (durations: test_fields)."""

from __future__ import annotations

import pytest
from vigia_operator.core.fields import SpecError
from vigia_operator.view.monitoring import KPI, parse_monitoring


def test_an_empty_monitoring_section_takes_the_defaults() -> None:
    spec = parse_monitoring({})
    assert (spec.window, spec.statistic, spec.drift_threshold) == ("1h", "PSI", 0.2)
    assert (spec.drift_min_samples, spec.accuracy_min, spec.accuracy_min_feedback) == (
        500, 0.85, 100,
    )
    assert spec.interval_s == 60.0 and spec.kpis == ()


def test_a_full_section_is_read() -> None:
    spec = parse_monitoring({"monitoring": {
        "interval": "30s", "window": "1h30m",
        "drift": {"statistic": "JensenShannon", "threshold": 0.1, "minSamples": 50},
        "accuracy": {"min": 0.9, "minFeedback": 20},
        "confidence": {"min": 0.7},
        "kpis": [{"name": "scrap_rate", "query": "sum(x)", "max": 0.05}],
    }})
    assert spec.interval_s == 30 and spec.window == "1h30m"
    assert spec.statistic == "JensenShannon" and spec.drift_min_samples == 50
    assert spec.kpis == (KPI("scrap_rate", "sum(x)", None, 0.05),)


@pytest.mark.parametrize(
    ("monitoring", "field"),
    [
        ({"window": "an hour"}, "spec.monitoring.window"),
        ({"drift": {"statistic": "KS"}}, "spec.monitoring.drift.statistic"),
        ({"drift": {"minSamples": "many"}}, "spec.monitoring.drift.minSamples"),
        ({"accuracy": {"min": True}}, "spec.monitoring.accuracy.min"),
        ({"kpis": [{"name": "k", "query": "q"}]}, "spec.monitoring.kpis[0]"),
        ({"kpis": [{"name": "k", "min": 1}]}, "spec.monitoring.kpis[0].query"),
    ],
)
def test_bad_input_names_the_field(monitoring: dict[str, object], field: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse_monitoring({"monitoring": monitoring})
    assert caught.value.field == field


def test_kpi_bounds() -> None:
    kpi = KPI("k", "q", 1.0, 2.0)
    assert kpi.violated_by(0.5) and kpi.violated_by(2.5) and not kpi.violated_by(1.5)


def test_segments_are_read_and_bounded() -> None:
    spec = parse_monitoring({"monitoring": {"segments": ["flour_supplier", "shift"]}})
    assert spec.segments == ("flour_supplier", "shift")
    assert parse_monitoring({}).segments == ()
    with pytest.raises(SpecError, match=r"spec\.monitoring\.segments"):
        parse_monitoring({"monitoring": {"segments": ["a", "b", "c", "d"]}})
    with pytest.raises(SpecError, match=r"spec\.monitoring\.segments"):
        parse_monitoring({"monitoring": {"segments": "flour_supplier"}})
