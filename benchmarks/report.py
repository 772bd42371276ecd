"""Report generation time for a day of the sample's traffic.

A day is --rows predictions (default 50,000, about one every 1.7 s) spread over 24 h,
with drift growing through the day, a fifth of them labelled through feedback and a
canary in the last quarter, written through the model server's own PredictionStore
(SQLite file). Times `build_report` (read, analyse, draw, render) and prints the size.

    python3 benchmarks/report.py [--rows 50000] [--store sqlite|URL]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from vigia_serving.store import PredictionStore
from vigia_testbed.traffic import simulate

from vigia.report.analysis import Terms
from vigia.report.build import ReportRequest, build_report, write_report
from vigia.report.sources import StoreSource, Window
from vigia.sample import train_sample_model

START = datetime(2026, 11, 1, tzinfo=UTC)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--store", default="sqlite", help="'sqlite' (a temp file) or a URL")
    parser.add_argument("--out", default=None, help="keep the HTML here")
    args = parser.parse_args(argv)
    bundle = train_sample_model()
    with tempfile.TemporaryDirectory(prefix="vigia-report-bench-") as tmp:
        url = f"sqlite:///{tmp}/day.db" if args.store == "sqlite" else args.store
        store = PredictionStore(url)
        store.create_tables()
        started = time.perf_counter()
        labels = simulate(store, bundle, start=START, hours=24, rows=args.rows, canary_version="2")
        store.close()
        print(f"simulated {args.rows:,} predictions, {labels:,} labelled, "
              f"in {time.perf_counter() - started:.1f} s")
        request = ReportRequest(
            model=bundle.metadata.name,
            window=Window(START, START + timedelta(days=1)),
            terms=Terms(items="sponge cakes", bad_class="defective"),
        )
        source = StoreSource(url)
        report = build_report(bundle, source, request)
        source.close()
        out = Path(args.out) if args.out else Path(tmp) / "report.html"
        write_report(report, out)
        print(f"report: {report.rows:,} predictions in {report.seconds:.2f} s, "
              f"{out.stat().st_size / 1024:.0f} KiB, sections {', '.join(report.sections)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
