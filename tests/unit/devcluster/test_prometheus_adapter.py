"""The prometheus-adapter rule (vigia_testbed.prometheus_adapter) is the one
docs/autoscaling.md gives users, and it serves the metric the operator's HPA names."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from vigia_operator.children import autoscaler
from vigia_operator.view.autoscaling import Autoscaling
from vigia_testbed import prometheus_adapter as pa

from vigia import metrics

DOC = Path(__file__).resolve().parents[3] / "docs" / "autoscaling.md"


def test_the_documented_rule_is_the_one_the_adapter_is_tested_with() -> None:
    block = re.search(r"```yaml\n(\s*rules:.*?)```", DOC.read_text(), re.S)
    assert block, "docs/autoscaling.md lost its prometheus-adapter rule"
    assert yaml.safe_load(block.group(1)) == pa.config()


def test_the_rule_serves_the_metric_the_operators_hpa_asks_for() -> None:
    rps = Autoscaling(min_replicas=1, max_replicas=3, cpu_utilization=None,
                      requests_per_second=2.5)
    asked = autoscaler.metric(rps)["pods"]["metric"]["name"]
    rule = pa.requests_per_second_rule()
    assert rule["name"]["as"] == asked == metrics.REQUESTS_PER_SECOND
    assert rule["seriesQuery"].startswith(metrics.REQUESTS_SERIES + "{")
    assert re.fullmatch(rule["name"]["matches"], metrics.REQUESTS_SERIES)


def test_the_go_module_pins_the_version_build_sh_names() -> None:
    go_mod = (pa.BUILD_SCRIPT.parent / "go.mod").read_text()
    assert f"sigs.k8s.io/prometheus-adapter {pa.version()} " in go_mod
    assert "tool sigs.k8s.io/prometheus-adapter/cmd/adapter" in go_mod
