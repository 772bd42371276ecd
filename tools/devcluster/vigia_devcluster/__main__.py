"""python3 -m vigia_devcluster up|down|env|status [--name NAME]  |  images [NAME...]"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from collections.abc import Sequence

from vigia_devcluster import images
from vigia_devcluster.cluster import (
    DEFAULT_NAME,
    DEFAULT_NODES,
    ClusterError,
    down,
    load_images,
    status,
    up,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python3 -m vigia_devcluster",
        description="A local Kubernetes control plane (etcd, apiserver, controller-manager, "
        "scheduler, kwok fake nodes) on 127.0.0.1.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for command, text in [
        ("up", "start the cluster (reuses a healthy one)"),
        ("down", "stop the processes the cluster started and delete its state"),
        ("env", "print `export KUBECONFIG=...` for a running cluster"),
        ("status", "print the cluster's state as JSON"),
    ]:
        sub = commands.add_parser(command, help=text)
        sub.add_argument("--name", default=DEFAULT_NAME, help="cluster name (default: %(default)s)")
        if command == "up":
            sub.add_argument("--nodes", type=int, default=DEFAULT_NODES,
                             help="number of kwok fake nodes (default: %(default)s)")
            sub.add_argument("--timeout", type=float, default=180.0,
                             help="seconds to wait for health (default: %(default)s)")
            sub.add_argument("--real-node", action="store_true",
                             help="add a real node (containerd, kubelet, kube-proxy, CoreDNS; "
                             "needs root; one per machine); fake nodes are then tainted")
    load = commands.add_parser("load", help="build (cached) and import images into a running "
                               "cluster's real node, as `kind load image-archive` does on kind")
    load.add_argument("--name", default=DEFAULT_NAME, help="cluster name (default: %(default)s)")
    load.add_argument("names", nargs="*", help="images to load (default: all)")
    build = commands.add_parser("images", help="build the real node's images (cached)")
    build.add_argument("names", nargs="*", help=f"images to build (default: all of "
                       f"{', '.join(images.references())})")
    build.add_argument("--list", action="store_true", help="print name, reference, archive")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _run(args)
    except (ClusterError, images.ImageBuildError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


def _images(args: argparse.Namespace) -> int:
    if args.list:
        for image in images.catalogue():
            if not args.names or image.name in args.names:
                print(f"{image.name}\t{image.reference}\t{images.archive_path(image)}")
        return 0
    began = time.monotonic()
    built = images.ensure(args.names or None, log=lambda line: print(line, file=sys.stderr))
    print(f"images ready in {time.monotonic() - began:.1f}s", file=sys.stderr)
    for name, archive in built.items():
        print(f"{name}\t{archive}")
    return 0


def _load(args: argparse.Namespace) -> int:
    began = time.monotonic()
    loaded = load_images(args.name, args.names or None)
    print(f"{len(loaded)} images imported into {args.name!r} in {time.monotonic() - began:.1f}s",
          file=sys.stderr)
    return 0


def _run(args: argparse.Namespace) -> int:
    if args.command == "load":
        return _load(args)
    if args.command == "images":
        return _images(args)
    if args.command == "up":
        began = time.monotonic()
        cluster = up(args.name, nodes=args.nodes, timeout=args.timeout,
                     real_node=args.real_node)
        verb = "started" if cluster.started else "reused"
        print(f"cluster {cluster.name!r} {verb} in {time.monotonic() - began:.1f}s: "
              f"{cluster.server}", file=sys.stderr)
        print(f"export KUBECONFIG={shlex.quote(str(cluster.kubeconfig))}")
        return 0
    if args.command == "down":
        stopped = down(args.name)
        print(f"cluster {args.name!r} {'stopped' if stopped else 'was not running'}",
              file=sys.stderr)
        return 0
    info = status(args.name)
    if args.command == "status":
        print(json.dumps(info, indent=2))
        return 0 if info.get("healthy") else 1
    if not info["exists"]:
        print(f"error: cluster {args.name!r} is not up; run `up` first", file=sys.stderr)
        return 1
    print(f"export KUBECONFIG={shlex.quote(str(info['kubeconfig']))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
