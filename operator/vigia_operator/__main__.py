"""`python3 -m vigia_operator`: run the operator (kopf, standalone, all namespaces)."""

from __future__ import annotations

import argparse
import logging

import kopf


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="vigia_operator", description=__doc__)
    parser.add_argument(
        "--liveness", metavar="URL", default=None,
        help="serve kopf's liveness probe, e.g. http://0.0.0.0:8080/healthz",
    )
    parser.add_argument(
        "-n", "--namespace", action="append", default=[],
        help="watch only this namespace (repeatable); default: every namespace",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    # kopf's format, with the object's namespace/name in front of its messages.
    kopf.configure(verbose=args.verbose, log_prefix=True)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)  # liveness probes
    from vigia_operator import handlers  # noqa: F401  (registers the handlers)

    # Standalone: one replica (Recreate strategy) and no peering objects to manage.
    kopf.run(
        standalone=True,
        clusterwide=not args.namespace,
        namespaces=args.namespace,
        liveness_endpoint=args.liveness,
        memo=kopf.Memo(namespaces=tuple(args.namespace)),
    )


if __name__ == "__main__":
    main()
