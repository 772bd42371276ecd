"""prometheus-adapter, built from its Go module (tools/prometheus-adapter/build.sh): it serves
the servers' request counter from Prometheus as the custom metric the operator's
requestsPerSecond target names (docs/autoscaling.md). Evaluated in the integration tier as
a local process (tests/integration/cluster/test_prometheus_adapter.py); not yet installed in
the e2e cluster."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any, Final

from vigia_devcluster.binaries import cache_root, parse_versions

from vigia import metrics

ROOT: Final = Path(__file__).resolve().parents[3]
BUILD_SCRIPT: Final = ROOT / "tools" / "prometheus-adapter" / "build.sh"
VERSIONS: Final = ROOT / "tools" / "prometheus-adapter" / "versions.env"
BUILD_TIMEOUT_S: Final = 3600  # cold, on two shared cores
API_GROUP: Final = "custom.metrics.k8s.io"
API_VERSION: Final = "v1beta2"


def version() -> str:
    return parse_versions(VERSIONS.read_text())["PROMETHEUS_ADAPTER_VERSION"]


def binary() -> Path:
    """The adapter from the build cache, built first by build.sh when missing or stale."""
    done = subprocess.run(["bash", str(BUILD_SCRIPT)], capture_output=True, text=True,
                          timeout=BUILD_TIMEOUT_S, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{BUILD_SCRIPT} failed: {done.stdout[-3000:]}{done.stderr[-3000:]}")
    return cache_root() / f"prometheus-adapter-{version()}" / "bin" / "adapter"


def requests_per_second_rule(window: str = "1m") -> dict[str, Any]:
    """The rule of docs/autoscaling.md: per pod, the rate of the servers' own request counter
    (every endpoint), served as metrics.REQUESTS_PER_SECOND."""
    return {
        "seriesQuery": f'{metrics.REQUESTS_SERIES}{{namespace!="",pod!=""}}',
        "resources": {"overrides": {"namespace": {"resource": "namespace"},
                                    "pod": {"resource": "pod"}}},
        "name": {"matches": f"^{metrics.REQUESTS_SERIES}$",
                 "as": metrics.REQUESTS_PER_SECOND},
        "metricsQuery": f"sum(rate(<<.Series>>{{<<.LabelMatchers>>}}[{window}])) by (<<.GroupBy>>)",
    }


def config(window: str = "1m") -> dict[str, Any]:
    return {"rules": [requests_per_second_rule(window)]}


def args(prometheus_url: str, config_file: str, *, port: int, cert_dir: str,
         relist: str = "1m") -> list[str]:
    return [
        f"--prometheus-url={prometheus_url}",
        f"--config={config_file}",
        f"--secure-port={port}",
        f"--tls-cert-file={cert_dir}/tls.crt",
        f"--tls-private-key-file={cert_dir}/tls.key",
        # How often it relists the series (a new pod's series is served from then on).
        f"--metrics-relist-interval={relist}",
    ]
