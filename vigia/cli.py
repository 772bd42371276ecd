"""The ``vigia`` command: a thin dispatcher over the Python API.

Each subcommand is a ``_cmd_*`` function taking the parsed arguments and returning
an exit code; ``build_parser`` wires them. Add a command by adding a subparser with
``set_defaults(func=...)``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from vigia.onnx.command import add_export
from vigia.report.command import add_report
from vigia.settings import env_name

DEFAULT_HOME = "/tmp/vigia"


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not hasattr(args, "func"):
        build_parser().print_help(sys.stderr)
        return 2
    from vigia.bundle import BundleError

    try:
        return int(args.func(args))
    except (BundleError, ValueError, OSError) as err:
        print(f"vigia: error: {err}", file=sys.stderr)
        return 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vigia", description="Vigía: keep models healthy.")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    _add_sample(commands)
    _add_bundle(commands)
    add_export(commands, _home_option)
    add_report(commands, _home_option)
    return parser


def _kind_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        # vigia.sample.SAMPLE_KINDS, spelled here: importing the sample loads scikit-learn.
        "--kind", choices=("quality", "weight"), default="quality",
        help="quality: classify each batch good or defective (default); weight: predict "
        "its baked weight in kg (the regression sample)",
    )


def _home_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--home",
        default=os.environ.get(env_name("home"), DEFAULT_HOME),
        help=f"writable working directory (default ${env_name('home')} or {DEFAULT_HOME})",
    )


def _add_sample(commands: Any) -> None:
    sample = commands.add_parser("sample", help="the production-line sample")
    sub = sample.add_subparsers(title="sample commands", metavar="COMMAND")

    bundle = sub.add_parser("bundle", help="train the sample model and export its bundle")
    bundle.add_argument("--out", required=True, help="bundle URI (path, file://, s3://...)")
    _kind_option(bundle)
    bundle.add_argument("--rows", type=_positive_int, default=5000)
    bundle.add_argument("--seed", type=int, default=0)
    bundle.add_argument("--name", default=None, help="model name (default: sobaos)")
    bundle.add_argument("--version", default="1", help="model version (default: 1)")
    bundle.add_argument(
        "--benchmark", action="store_true", help="the benchmark's 50-tree forest instead"
    )
    bundle.add_argument(
        "--dataset", default=None, help="also write the rows it learnt from (features and "
        "target), as CSV, to this URI: a retraining Job's spec.retraining.dataset"
    )
    _home_option(bundle)
    bundle.set_defaults(func=_cmd_sample_bundle)

    traffic = sub.add_parser("traffic", help="write request rows as JSON lines")
    traffic.add_argument("--out", required=True, help="file to write, '-' for stdout")
    _kind_option(traffic)
    traffic.add_argument("--rows", type=_positive_int, default=1000)
    traffic.add_argument("--seed", type=int, default=1)
    traffic.add_argument("--drift", type=float, default=0.0, help="0 = training-like, 1 = drifted")
    traffic.add_argument("--labels", default=None, help="also write the true labels, one a line")
    traffic.add_argument(
        "--numeric-only", action="store_true", help="only the 10 numeric features (benchmark)"
    )
    traffic.set_defaults(func=_cmd_sample_traffic)

    send = sub.add_parser(
        "send", help="send sample rows to a model server, each true label back as feedback"
    )
    send.add_argument("url", help="the server's base URL, e.g. http://sobaos.ml.svc")
    _kind_option(send)
    send.add_argument("--rows", type=_positive_int, default=None,
                      help="rows to send (default: without end, until --until-file exists)")
    send.add_argument("--seed", type=int, default=1)
    send.add_argument("--drift", type=float, default=0.0, help="0 = training-like, 1 = drifted")
    send.add_argument("--batch", type=_positive_int, default=100, help="rows per request")
    send.add_argument("--pause", type=float, default=0.0, help="seconds between requests")
    send.add_argument("--no-feedback", action="store_true", help="send no labels")
    send.add_argument("--until-file", default=None,
                      help="stop before the next request once this file exists")
    send.set_defaults(func=_cmd_sample_send)


def _add_bundle(commands: Any) -> None:
    bundle = commands.add_parser("bundle", help="model bundles")
    sub = bundle.add_subparsers(title="bundle commands", metavar="COMMAND")
    create = sub.add_parser("create", help="bundle a fitted estimator with its training data")
    create.add_argument("--estimator", required=True, help="the fitted estimator (joblib file)")
    create.add_argument("--train", required=True, help="training data, CSV (path or URI)")
    create.add_argument("--holdout", default=None, help="holdout data, CSV, for the metrics")
    create.add_argument("--target", required=True,
                        help="name of the label column (a regressor's: the true values)")
    create.add_argument("--name", required=True)
    create.add_argument("--version", required=True)
    create.add_argument("--out", required=True, help="bundle URI (path, file://, s3://...)")
    _home_option(create)
    create.set_defaults(func=_cmd_bundle_create)
    inspect = sub.add_parser("inspect", help="verify a bundle's digest and print its metadata")
    inspect.add_argument("uri")
    inspect.add_argument("--digest", default=None, help="sha256:<hex>; default: the sidecar")
    inspect.add_argument(
        "--allow-sidecar-digest", action="store_true",
        help="trust the <uri>.sha256 sidecar of a remote (s3) bundle when --digest is not given",
    )
    _home_option(inspect)
    inspect.set_defaults(func=_cmd_bundle_inspect)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _cmd_sample_bundle(args: argparse.Namespace) -> int:
    from vigia.bundle import export_bundle
    from vigia.sample import reference_benchmark_model, train_sample_model, write_dataset

    if args.kind == "weight":
        return _weight_bundle(args)
    if args.benchmark:
        name = args.name or "sobaos-benchmark"
        bundle = reference_benchmark_model(
            rows=args.rows, seed=args.seed, name=name, version=args.version
        )
    else:
        name = args.name or "sobaos"
        bundle = train_sample_model(rows=args.rows, seed=args.seed, name=name, version=args.version)
    digest = export_bundle(bundle, args.out, home=args.home)
    summary = {
        "uri": args.out,
        "digest": digest,
        "name": name,
        "version": args.version,
        "training_metrics": bundle.metadata.training_metrics,
    }
    if args.dataset:
        summary["dataset"] = write_dataset(
            args.dataset, rows=args.rows, seed=args.seed, numeric_only=args.benchmark
        )
    print(json.dumps(summary, indent=2))
    return 0


def _weight_bundle(args: argparse.Namespace) -> int:
    from vigia.bundle import export_bundle
    from vigia.sample import train_weight_model, write_weight_dataset

    name = args.name or "sobaos-weight"
    bundle = train_weight_model(rows=args.rows, seed=args.seed, name=name, version=args.version)
    summary: dict[str, Any] = {
        "uri": args.out, "digest": export_bundle(bundle, args.out, home=args.home),
        "name": name, "version": args.version, "task": bundle.metadata.task,
        "training_metrics": bundle.metadata.training_metrics,
    }
    if args.dataset:
        summary["dataset"] = write_weight_dataset(args.dataset, rows=args.rows, seed=args.seed)
    print(json.dumps(summary, indent=2))
    return 0


def _cmd_sample_traffic(args: argparse.Namespace) -> int:
    from vigia.sample import sample_records, traffic_records

    if args.kind == "weight":
        records, truths = sample_records("weight", args.rows, seed=args.seed, drift=args.drift)
        labels = [repr(t) for t in truths]
    else:
        records, labels = traffic_records(
            args.rows, seed=args.seed, drift=args.drift, numeric_only=args.numeric_only
        )
    _write_lines(args.out, (json.dumps(r, allow_nan=False) for r in records))
    if args.labels:
        _write_lines(args.labels, labels)
    return 0


def _cmd_sample_send(args: argparse.Namespace) -> int:
    from vigia.traffic import send

    if args.rows is None and args.until_file is None:
        raise SystemExit("vigia sample send: give --rows, --until-file or both")
    stop_file = args.until_file
    sent = send(args.url, args.rows, seed=args.seed, drift=args.drift, kind=args.kind,
                feedback=not args.no_feedback, batch=args.batch, pause=args.pause,
                stop=lambda: stop_file is not None and os.path.exists(stop_file))
    print(json.dumps(sent.as_dict()))
    return 0


def _write_lines(path: str, lines: Any) -> None:
    if path == "-":
        for line in lines:
            sys.stdout.write(line + "\n")
        return
    with open(path, "w", encoding="utf-8") as out:
        for line in lines:
            out.write(line + "\n")


def _cmd_bundle_create(args: argparse.Namespace) -> int:
    import joblib

    from vigia.bundle import export_bundle, make_bundle, model_task

    # The estimator file is the user's own: unpickling it here is their choice.
    estimator = joblib.load(args.estimator)
    model_task(estimator)  # refused before any data is read, with the reason
    X, y = _read_labelled(args.train, args.target)
    X_hold, y_hold = _read_labelled(args.holdout, args.target) if args.holdout else (None, None)
    bundle = make_bundle(
        estimator, X, y, name=args.name, version=args.version, X_holdout=X_hold, y_holdout=y_hold
    )
    digest = export_bundle(bundle, args.out, home=args.home)
    print(json.dumps({"uri": args.out, "digest": digest, **bundle.metadata.training_metrics}))
    return 0


def _read_labelled(uri: str, target: str) -> tuple[Any, Any]:
    import pandas as pd

    frame = pd.read_csv(uri)
    if target not in frame.columns:
        raise ValueError(f"--target: no column {target!r} in {uri}")
    return frame.drop(columns=[target]), frame[target]


def _cmd_bundle_inspect(args: argparse.Namespace) -> int:
    from vigia.bundle import load_bundle

    bundle = load_bundle(args.uri, args.digest, home=args.home,
                         allow_sidecar_digest=args.allow_sidecar_digest)
    print(json.dumps(bundle.metadata.to_dict(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
