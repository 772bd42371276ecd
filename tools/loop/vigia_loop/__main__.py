"""`python -m vigia_loop`: the closed loop on the local cluster with its real node (root),
or on the cluster of ``--kubeconfig`` (kind, with the project's images loaded).
`python -m vigia_loop --quick`: the model server alone on 127.0.0.1, no cluster, no root
(``vigia_loop.quick``, which takes its own options)."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from vigia_devcluster.binaries import cache_root

from vigia_loop import quick
from vigia_loop.loop import MODEL, run
from vigia_loop.scale import SCALES
from vigia_loop.timeline import Step, Timeline

CLUSTER = "vigia-demo"
NAMESPACE = "vigia-demo"
IMAGES = ["vigia", "postgresql", "prometheus", "prometheus-operator",
          "prometheus-config-reloader"]
QUICK = "--quick"


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if QUICK in argv:  # no cluster: the quick demo parses the other options itself
        return quick.main([arg for arg in argv if arg != QUICK])
    args = _parser().parse_args(argv)
    scale = SCALES["full" if args.full else "scaled"]
    if args.kubeconfig is None and os.geteuid() != 0:
        print("vigia_loop: the local cluster's real node needs root (containerd, network "
              "namespaces): run as root, or give --kubeconfig of a cluster with the images "
              "loaded, or --quick for the demo without a cluster.", file=sys.stderr)
        return 2
    began = time.monotonic()
    with _cluster(args.kubeconfig, keep=args.keep) as kubeconfig:
        ready = time.monotonic() - began
        print(f"cluster ready in {ready:.0f} s ({kubeconfig}); the loop, {scale.name} "
              f"intervals:")
        timeline = run(kubeconfig, args.namespace, scale, Timeline())
        print()
        print(timeline.render())
        print(f"The retraining report (for people): {_keep_report(timeline)}")
        if args.keep or args.kubeconfig:
            print(f"See it all: kubectl --kubeconfig {kubeconfig} -n {args.namespace} "
                  f"describe modeldeployment {MODEL}")
        if args.json:
            figures = {"scale": scale.name, "clusterSeconds": round(ready, 1),
                       **timeline.summary(),
                       "marks": [{"step": m.step, "at": m.at, "text": m.text,
                                  "numbers": m.numbers} for m in timeline.marks]}
            Path(args.json).write_text(json.dumps(figures, indent=2, default=str))
    return 0


def _keep_report(timeline: Timeline) -> str:
    """The candidate's HTML report, copied out of the cluster's volume (which goes with the
    cluster) when it is on this machine; else its URI."""
    numbers = timeline.first(Step.RECOVERED).numbers
    on_disk = numbers.get("reportPath")
    if not on_disk or not Path(on_disk).is_file():
        return str(numbers.get("report"))
    kept = cache_root() / "demo" / Path(on_disk).name
    kept.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(on_disk, kept)
    return str(kept)


@contextmanager
def _cluster(kubeconfig: str | None, *, keep: bool) -> Iterator[Path]:
    if kubeconfig is not None:
        yield Path(kubeconfig)
        return
    import vigia_devcluster

    cluster = vigia_devcluster.up(CLUSTER, nodes=0, real_node=True, timeout=600)
    try:
        vigia_devcluster.load_images(CLUSTER, IMAGES)
        yield cluster.kubeconfig
    finally:
        if keep:
            print(f"The cluster keeps running: python3 -m vigia_devcluster down --name {CLUSTER} "
                  "stops it.")
        else:
            vigia_devcluster.down(CLUSTER)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vigia_loop", description=__doc__)
    parser.add_argument(QUICK, action="store_true",
                        help="no cluster: the sample model served alone on 127.0.0.1 (no "
                        "root); its own options: --quick --help")
    parser.add_argument("--full", action="store_true",
                        help="the shipped intervals (about half an hour) instead of minutes")
    parser.add_argument("--kubeconfig", default=None,
                        help="run on this cluster instead of the local one")
    parser.add_argument("--namespace", default=NAMESPACE)
    parser.add_argument("--keep", action="store_true",
                        help="leave the local cluster running at the end")
    parser.add_argument("--json", default=None, help="also write the timeline to this file")
    return parser


if __name__ == "__main__":
    sys.exit(main())
