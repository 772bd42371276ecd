"""``vigia report``: argument wiring for the CLI."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any


def add_report(commands: Any, home_option: Callable[[argparse.ArgumentParser], None]) -> None:
    report = commands.add_parser("report", help="an HTML report in business terms")
    report.add_argument("--bundle", required=True, help="bundle URI of the model")
    report.add_argument("--digest", default=None, help="sha256:<hex>; default: the sidecar")
    report.add_argument("--store", required=True, help="SQLAlchemy URL of the prediction store")
    report.add_argument("--model", default=None, help="model name in the store (default: bundle's)")
    report.add_argument("--namespace", default=None,
                        help="the model's namespace in the store (default: every namespace)")
    report.add_argument("--prometheus", default=None, help="Prometheus URL for live metrics")
    report.add_argument("--hours", type=float, default=24.0, help="window length (default 24)")
    report.add_argument("--until", default=None, help="window end, ISO time (default: now)")
    report.add_argument("--items", default="items", help='what one row is, e.g. "sponge cakes"')
    report.add_argument("--bad-class", default=None, help="the class that means a problem")
    report.add_argument("--sensitive", default="", help="features to compare groups by, a,b")
    report.add_argument(
        "--kpi", action="append", default=[], metavar="NAME=PROMQL", help="a business KPI"
    )
    report.add_argument(
        "--costs", default=None, metavar="JSON",
        help='each error\'s cost, as spec.monitoring.costs: {"unit": "EUR per 1,000 cakes", '
        '"errors": [{"predicted": "good", "actual": "defective", "cost": 10}]}')
    report.add_argument("--out", required=True, help="HTML file to write")
    home_option(report)
    report.set_defaults(func=_cmd_report)


def _kpis(pairs: list[str]) -> dict[str, str]:
    kpis = {}
    for pair in pairs:
        name, sep, query = pair.partition("=")
        if not sep or not name.strip() or not query.strip():
            raise ValueError(f"--kpi {pair!r}: expected NAME=PROMQL")
        kpis[name.strip()] = query.strip()
    return kpis


def _cmd_report(args: argparse.Namespace) -> int:
    from vigia.bundle import load_bundle
    from vigia.costs import CostTable
    from vigia.report.analysis import Terms
    from vigia.report.build import ReportRequest, build_report, write_report
    from vigia.report.sources import NoMetrics, PrometheusSource, StoreSource, Window, utc

    if args.hours <= 0:
        raise ValueError(f"--hours: must be positive, got {args.hours}")
    end = utc(args.until) if args.until else datetime.now(UTC)
    bundle = load_bundle(args.bundle, args.digest, home=args.home)
    classes = bundle.metadata.classes
    if args.bad_class is not None and args.bad_class not in classes:
        raise ValueError(f"--bad-class: {args.bad_class!r} is not one of {', '.join(classes)}")
    request = ReportRequest(
        model=args.model or bundle.metadata.name,
        window=Window(end - timedelta(hours=args.hours), end),
        terms=Terms(items=args.items, bad_class=args.bad_class),
        sensitive=tuple(s.strip() for s in args.sensitive.split(",") if s.strip()),
        kpis=_kpis(args.kpi),
        costs=CostTable.from_json(args.costs) if args.costs else None,
    )
    metrics = PrometheusSource(args.prometheus) if args.prometheus else NoMetrics()
    store = StoreSource(args.store, args.namespace)
    try:
        report = build_report(bundle, store, request, metrics)
    finally:
        store.close()
    path = write_report(report, Path(args.out))
    summary = {
        "file": str(path),
        "bytes": path.stat().st_size,
        "predictions": report.rows,
        "seconds": round(report.seconds, 3),
        "empty_sections": list(report.empty),
    }
    print(json.dumps(summary, indent=2))
    return 0
