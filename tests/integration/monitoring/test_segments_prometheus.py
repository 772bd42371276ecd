"""Segments through the real path, drift and accuracy per flour supplier: a real model
server counting per supplier (VIGIA_SEGMENTS), the built Prometheus with the shipped
rules, the operator's queries and verdict. A drift confined to one supplier (its oven one
standard deviation hotter, the others unchanged) stays under the threshold for the whole
population and is named in the segment; so is the supplier whose labels are half wrong
while the population's accuracy stays acceptable. Over a window read inline (5m) and from
the recording rules (1h)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from vigia_operator.core import reasons
from vigia_operator.decide import monitoring as ev
from vigia_operator.prometheus.client import PrometheusClient
from vigia_operator.prometheus.collect import MonitoredModel, PrometheusSignals
from vigia_operator.prometheus.rules import RULES_WINDOW
from vigia_operator.view.monitoring import MonitoringSpec
from vigia_serving.local import LocalServer
from vigia_testbed.prometheus import PrometheusServer, Target

from vigia import metrics
from vigia.bundle import export_bundle
from vigia.sample import NUMERIC_FEATURES, traffic_records, train_sample_model

from .conftest import BASELINE_S, SERVER_START_S, Model, fast_rule_file

ROWS = 2000
SEGMENT, HOT = "flour_supplier", "trigo_del_valle"
KEY = ("plant", "segmented")


@pytest.fixture(scope="module")
def segmented(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    work: Path = tmp_path_factory.mktemp("segments")
    bundle = train_sample_model(rows=2000, seed=1, version="3")
    uri = f"file://{work}/sobaos.bentomodel"
    export_bundle(bundle, uri, home=work / "home")
    server = LocalServer(work / "server", {
        "VIGIA_MODEL_URI": uri, "VIGIA_NAMESPACE": KEY[0], "VIGIA_MODEL_NAME": KEY[1],
        "VIGIA_TRACK": "stable", "VIGIA_STORE_URL": f"sqlite:///{work}/store.db",
        "VIGIA_SEGMENTS": SEGMENT,
    }).start()
    prometheus = PrometheusServer(work / "prometheus", rule_files=(fast_rule_file(work),))
    try:
        server.wait(timeout=SERVER_START_S)
        prometheus.start()
        prometheus.set_targets([Target(f"127.0.0.1:{server.port}")])
        assert prometheus.wait_for(
            f"count(count_over_time(up[5m]) >= {BASELINE_S}) == 1", timeout=BASELINE_S * 10)
        records, _ = traffic_records(ROWS, seed=31)
        sd = NUMERIC_FEATURES["oven_temperature"][1]
        for r in records:
            if r[SEGMENT] == HOT and r["oven_temperature"] is not None:
                r["oven_temperature"] = float(r["oven_temperature"]) + sd  # type: ignore[arg-type]
        model = Model(*KEY, server)
        model.predict(records, batch=100)
        # Feedback: every prediction right, except half of the hot supplier's (labelled
        # wrong): the population stays above 0.85, the hot supplier falls to ~0.5.
        flipped = {"good": "defective", "defective": "good"}
        hot_seen = 0
        labels = []
        for record, prediction in zip(records, model.predictions, strict=True):
            wrong = record[SEGMENT] == HOT and hot_seen % 2 == 0
            hot_seen += record[SEGMENT] == HOT
            labels.append(flipped[prediction["class"]] if wrong else prediction["class"])
        model.feedback(labels)
        hot_rows = sum(1 for r in records if r[SEGMENT] == HOT)
        seen = prometheus.wait_for(
            f'sum({metrics.SEGMENT_FEATURE_BIN_SERIES}{{segment_value="{HOT}",'
            f' feature="baking_minutes"}}) == {hot_rows}', timeout=90)
        assert seen, "Prometheus never saw the segment's rows"
        assert prometheus.wait_for(
            f'sum({metrics.SEGMENT_FEEDBACK_SERIES}{{segment_value="{HOT}"}}) == {hot_rows}',
            timeout=90), "Prometheus never saw the segment's feedback"
        # The 1h window reads recorded series: wait until the rules ran over the traffic.
        assert prometheus.wait_for(
            f'sum(vigia:segment_rows:{RULES_WINDOW}{{segment_value="{HOT}",'
            f' feature="baking_minutes"}}) > {0.9 * hot_rows}', timeout=90)
        assert prometheus.wait_for(
            f'sum(vigia:segment_feedback:{RULES_WINDOW}{{segment_value="{HOT}"}})'
            f' > {0.9 * hot_rows}', timeout=90)
        yield prometheus
    finally:
        prometheus.stop()
        server.stop()


@pytest.mark.parametrize("window", ["5m", RULES_WINDOW])
def test_a_drift_in_one_supplier_is_named_where_the_population_misses_it(
    segmented: PrometheusServer, window: str
) -> None:
    spec = MonitoringSpec(window=window, drift_min_samples=200, segments=(SEGMENT,))
    provider = PrometheusSignals(PrometheusClient(segmented.url, timeout_s=10))
    tick = provider.collect([MonitoredModel(KEY, spec)], time.time())
    verdict = ev.assess(spec, tick.of(KEY), now=time.time(), unavailable=tick.unavailable)
    found = verdict.condition(reasons.DRIFTED)
    assert found is not None
    assert (found.status, found.reason) == ("True", reasons.SEGMENT_DRIFTED), found.message
    assert verdict.section["drift"]["score"] < spec.drift_threshold  # the population's
    worst = verdict.section["drift"]["segments"][0]
    assert (worst["segment"], worst["value"], worst["feature"]) == (
        SEGMENT, HOT, "oven_temperature")
    assert worst["score"] > 0.5 and worst["rows"] > 300
    assert f"oven_temperature ({worst['score']:.3f}) in {SEGMENT}={HOT}" in found.message
    assert {s["value"] for s in verdict.section["drift"]["segments"]} == {HOT}


@pytest.mark.parametrize("window", ["5m", RULES_WINDOW])
def test_low_accuracy_in_one_supplier_is_named_with_its_labels(
    segmented: PrometheusServer, window: str
) -> None:
    spec = MonitoringSpec(window=window, drift_min_samples=200, accuracy_min_feedback=100,
                          segments=(SEGMENT,))
    provider = PrometheusSignals(PrometheusClient(segmented.url, timeout_s=10))
    tick = provider.collect([MonitoredModel(KEY, spec)], time.time())
    verdict = ev.assess(spec, tick.of(KEY), now=time.time(), unavailable=tick.unavailable)
    found = verdict.condition(reasons.ACCURACY_LOW)
    assert found is not None
    assert (found.status, found.reason) == (
        "True", reasons.SEGMENT_ACCURACY_BELOW_MIN), found.message
    assert verdict.section["accuracy"] > spec.accuracy_min  # the population's
    lowest = verdict.section["segmentAccuracy"][0]
    assert (lowest["segment"], lowest["value"]) == (SEGMENT, HOT)
    assert 0.4 < lowest["accuracy"] < 0.6 and lowest["feedback"] > 400
    assert found.message.startswith(
        f"accuracy {lowest['accuracy']:.2f} for {SEGMENT}={HOT} over {window},"
        f" {lowest['feedback']} labels")
    assert all(a["accuracy"] > 0.99 for a in verdict.section["segmentAccuracy"][1:])
