"""`python -m vigia_loop.install --kubeconfig PATH`: Vigía installed with Helm on a cluster
whose nodes have the images (scripts/e2e-on-cluster): the Prometheus Operator, PostgreSQL
and the bundle volume beside the chart, as the closed loop installs it."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from vigia_loop.platform import install_with_helm


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vigia_loop.install", description=__doc__)
    parser.add_argument("--kubeconfig", type=Path, required=True)
    parser.add_argument("--tick-seconds", type=float, default=None,
                        help="the operator's tick (default: the chart's, 60 s)")
    args = parser.parse_args(argv)
    began = time.monotonic()
    install_with_helm(args.kubeconfig, tick_seconds=args.tick_seconds)
    print(f"Vigía installed with Helm in {time.monotonic() - began:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
