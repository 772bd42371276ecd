"""`python3 -m vigia_operator`: run the operator (kopf, standalone).

Configuration: VIGIA_OPERATOR_* environment variables (``vigia_operator.core.config``);
``--namespace`` overrides VIGIA_OPERATOR_NAMESPACES.
"""

from __future__ import annotations

import argparse
import logging
import sys


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="vigia_operator", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--liveness", metavar="URL", default=None,
        help="serve kopf's liveness probe, e.g. http://0.0.0.0:8080/healthz",
    )
    parser.add_argument(
        "-n", "--namespace", action="append", default=[],
        help="watch only this namespace (repeatable); default: VIGIA_OPERATOR_NAMESPACES, "
        "else every namespace",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    # kopf imports the official client when it is installed, only to recognise its model
    # objects; the operator never passes any and logs in by itself. Not importing it
    # saves ~40 MiB of resident memory.
    sys.modules.setdefault("kubernetes", None)  # type: ignore[arg-type]
    import kopf

    from vigia_operator.core.config import OperatorSettings

    config = OperatorSettings()
    if args.namespace:
        config = config.model_copy(update={"namespaces": tuple(args.namespace)})
    # kopf's format, with the object's namespace/name in front of its messages.
    kopf.configure(verbose=args.verbose, log_prefix=True)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)  # liveness probes
    if not args.verbose:  # "Handler ... succeeded" for every watch event: noise and CPU
        logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    from vigia_operator import handlers  # noqa: F401  (registers the handlers)

    # Standalone: no kopf peering; with several replicas a Lease elects the one that acts.
    kopf.run(
        standalone=True,
        clusterwide=not config.namespaces,
        namespaces=list(config.namespaces),
        liveness_endpoint=args.liveness,
        memo=kopf.Memo(config=config),
    )


if __name__ == "__main__":
    main()
