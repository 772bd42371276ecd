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
    small = sub.add_parser(
        "small", help="the smallest forest within a point of the bundle's accuracy, as ONNX")
    _common(small, home_option)
    small.add_argument("--train", required=True, help="CSV of the training rows (refitted on)")
    small.add_argument("--holdout", required=True, help="CSV of the holdout rows (judged on)")
    small.add_argument("--target", required=True, help="label column of both CSVs")
    small.add_argument("--tolerance", type=float, default=None, help="accuracy loss allowed")
    small.add_argument("--trees", default=None, help="tree counts to try, e.g. 5,10,20")
    small.add_argument("--depths", default=None, help="depths to try, e.g. 4,8,none")
    small.set_defaults(func=_cmd_export_small)
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


def _cmd_export_small(args: argparse.Namespace) -> int:
    import pandas as pd

    from vigia.bundle import load_bundle
    from vigia.onnx.export import write_compiled
    from vigia.onnx.small import DEFAULT_TOLERANCE, smallest_forest

    bundle = load_bundle(args.uri, args.digest, home=args.home)
    names = list(bundle.metadata.schema.names)
    frames = {}
    for option in ("train", "holdout"):
        frame = pd.read_csv(getattr(args, option))
        missing = [n for n in (*names, args.target) if n not in frame.columns]
        if missing:
            raise ValueError(f"--{option}: no column {missing[0]!r} in {getattr(args, option)}")
        frames[option] = (frame[names], frame[args.target].astype(str))
    grid: dict[str, Any] = {}
    if args.trees:
        grid["trees"] = tuple(int(n) for n in args.trees.split(","))
    if args.depths:
        grid["depths"] = tuple(None if d.strip().lower() == "none" else int(d)
                               for d in args.depths.split(","))
    small = smallest_forest(bundle, *frames["train"], *frames["holdout"],
                            tolerance=args.tolerance or DEFAULT_TOLERANCE, **grid)
    summary: dict[str, Any] = {
        "full": small.full.__dict__, "small": small.chosen.__dict__,
        "accuracy_loss": round(small.accuracy_loss, 6),
        "parity": small.compiled.manifest.parity.__dict__,
    }
    if small.compiled.parity.passed:
        path = write_compiled(small.compiled, Path(args.out))
        summary.update(file=str(path), bytes=path.stat().st_size)
    print(json.dumps(summary, indent=2))
    write_compiled(small.compiled, Path(args.out))  # raises ParityError when it failed
    return 0


def _cmd_export_web(args: argparse.Namespace) -> int:
    from vigia.browser_page import export_web

    folder = export_web(_compile(args), Path(args.out))
    print(json.dumps({"folder": str(folder), "open": str(folder / "index.html")}))
    return 0
