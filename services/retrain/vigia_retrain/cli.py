"""`vigia-retrain` (also `python -m vigia_retrain`): settings from VIGIA_RETRAIN_* variables,
each overridable by an option.

Every field of ``vigia.settings.RetrainSettings`` is an option of the same name
(``dataset_uri`` -> ``--dataset-uri``); an option given wins over its variable.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from vigia.retraining import REFUSED, RESULT_SCHEMA, ExitCode, Reason
from vigia.settings import RetrainSettings, retrain_env_name
from vigia_retrain import output
from vigia_retrain.job import run


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vigia-retrain",
        description="Train a candidate on the base data plus labelled feedback, gate it "
        "against the current model, write it with its report, and print the result.",
        epilog="Exit codes: 0 accepted, 3 refused by the gate, 2 invalid input, 1 failed.",
    )
    for name, field in RetrainSettings.model_fields.items():
        parser.add_argument(
            option_name(name),
            dest=name,
            default=None,
            metavar=name.split("_")[-1].upper(),
            help=f"{field.description} [${retrain_env_name(name)}]",
        )
    return parser


def option_name(field: str) -> str:
    return "--" + field.replace("_", "-")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    given = {k: v for k, v in vars(args).items() if v is not None}
    try:
        settings = RetrainSettings(**given)
    except ValidationError as err:
        termination = given.get("termination_path") or os.environ.get(
            retrain_env_name("termination_path")
        )
        return _invalid_settings(err, termination)
    result, code = run(settings)
    output.publish_result(result, settings.termination_path)
    if code != ExitCode.ACCEPTED:
        for reason in result["reasons"]:
            print(f"vigia-retrain: {result['verdict']}: {reason['message']}", file=sys.stderr)
    return int(code)


def _invalid_settings(err: ValidationError, termination_path: str | None) -> int:
    messages = [_describe(error) for error in err.errors()]
    result: dict[str, Any] = {
        "schema": RESULT_SCHEMA,
        "verdict": REFUSED,
        "reasons": [{"code": Reason.INVALID_INPUT, "message": m} for m in messages],
    }
    output.publish_result(result, termination_path)
    for message in messages:
        print(f"vigia-retrain: invalid input: {message}", file=sys.stderr)
    return int(ExitCode.INVALID_INPUT)


def _describe(error: Any) -> str:
    field = str(error["loc"][0]) if error["loc"] else "settings"
    return f"{field} (${retrain_env_name(field)} or {option_name(field)}): {error['msg']}"
