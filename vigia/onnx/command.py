"""``vigia export onnx`` and ``vigia export web``: argument wiring for the CLI."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def add_export(commands: Any, home_option: Callable[[argparse.ArgumentParser], None]) -> None:
    export = commands.add_parser("export", help="export a bundle for devices and browsers")
    sub = export.add_subparsers(title="export commands", metavar="COMMAND")
    onnx = sub.add_parser("onnx", help="model.onnx + model.json, after a parity check")
    _common(onnx, home_option)
    onnx.add_argument("--holdout", default=None, help="CSV rows for the parity check")
    onnx.add_argument("--target", default=None, help="label column of --holdout, dropped")
    onnx.add_argument("--threshold", type=float, default=None, help="max probability difference")
    onnx.set_defaults(func=_cmd_export_onnx)
    web = sub.add_parser("web", help="a static folder that runs the model in the browser")
    _common(web, home_option)
    web.set_defaults(func=_cmd_export_web)


def _common(parser: argparse.ArgumentParser, home_option: Callable[..., None]) -> None:
    parser.add_argument("uri", help="bundle URI")
    parser.add_argument("--digest", default=None, help="sha256:<hex>; default: the sidecar")
    parser.add_argument("--out", required=True, help="folder to write")
    home_option(parser)


def _compile(args: argparse.Namespace) -> Any:
    import pandas as pd

    from vigia.bundle import load_bundle
    from vigia.onnx.export import compile_bundle
    from vigia.onnx.parity import DEFAULT_THRESHOLD

    bundle = load_bundle(args.uri, args.digest, home=args.home)
    holdout = None
    if getattr(args, "holdout", None):
        holdout = pd.read_csv(args.holdout)
        if args.target:
            holdout = holdout.drop(columns=[args.target])
        missing = [n for n in bundle.metadata.schema.names if n not in holdout.columns]
        if missing:
            raise ValueError(f"--holdout: no column {missing[0]!r} in {args.holdout}")
    threshold = getattr(args, "threshold", None) or DEFAULT_THRESHOLD
    return compile_bundle(bundle, holdout, threshold=threshold)


def _cmd_export_onnx(args: argparse.Namespace) -> int:
    from vigia.onnx.export import write_compiled

    started = time.perf_counter()
    compiled = _compile(args)
    summary: dict[str, Any] = {"parity": compiled.manifest.parity.__dict__}
    if compiled.parity.passed:
        path = write_compiled(compiled, Path(args.out))
        summary.update(file=str(path), bytes=path.stat().st_size)
    summary["seconds"] = round(time.perf_counter() - started, 3)
    print(json.dumps(summary, indent=2))
    if not compiled.parity.passed:
        write_compiled(compiled, Path(args.out))  # raises ParityError with the figures
    return 0


def _cmd_export_web(args: argparse.Namespace) -> int:
    from vigia.browser_page import export_web

    folder = export_web(_compile(args), Path(args.out))
    print(json.dumps({"folder": str(folder), "open": str(folder / "index.html")}))
    return 0
