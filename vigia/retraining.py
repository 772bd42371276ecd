"""The retraining job's contract, shared by the job (services/retrain) and the operator.

The job (`vigia-retrain`) reads ``vigia.settings.RetrainSettings`` from ``VIGIA_RETRAIN_*``
variables and ends by writing one JSON result (schema ``RESULT_SCHEMA``) to the
container's termination message and to stdout. Its exit code says what kind of end it
was; the verdict and reasons inside the result say why.
"""

from __future__ import annotations

import re
from datetime import timedelta
from enum import IntEnum
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

RESULT_SCHEMA: Final = "vigia.dev/retrain-result/v1"
# Kubernetes keeps at most 4096 bytes of a container's termination message.
TERMINATION_MESSAGE_LIMIT: Final = 4096
DEFAULT_TERMINATION_PATH: Final = "/dev/termination-log"
BUNDLE_SUFFIX: Final = ".bentomodel"
REPORT_SUFFIX: Final = ".report.json"
HTML_REPORT_SUFFIX: Final = ".report.html"
ONNX_SUFFIX: Final = ".onnx"  # a folder: model.onnx and model.json (vigia.onnx.manifest)

Verdict = Literal["Accepted", "Refused", "Failed"]
ACCEPTED: Final[Verdict] = "Accepted"
REFUSED: Final[Verdict] = "Refused"
FAILED: Final[Verdict] = "Failed"


class ExitCode(IntEnum):
    """How the job ended. Refusals (2, 3) are final: retrying the same inputs cannot change
    them, so a Job should fail at once on them (podFailurePolicy FailJob); 1 may be
    transient (a store that is down) and is worth the Job's backoffLimit."""

    ACCEPTED = 0
    FAILED = 1
    INVALID_INPUT = 2
    REFUSED = 3


class Reason:
    """Reason codes in a result's ``reasons[].code``."""

    INVALID_INPUT: Final = "InvalidInput"
    NO_FEEDBACK: Final = "NoFeedback"
    UNAVAILABLE: Final = "Unavailable"
    NOT_ENOUGH_IMPROVEMENT: Final = "NotEnoughImprovement"
    HOLDOUT_REGRESSION: Final = "HoldoutRegression"
    COST_INCREASE: Final = "CostIncrease"  # the candidate's errors cost more (maxCostIncrease)
    UNFAIR: Final = "Unfair"
    FAIRNESS_NOT_EVALUABLE: Final = "FairnessNotEvaluable"
    ERROR: Final = "Error"


_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def parse_duration(text: str) -> timedelta:
    """``7d``, ``36h``, ``1h30m``, ``90s`` as a timedelta; anything else is a ValueError."""
    match = _DURATION.match(text.strip())
    if not match or not any(match.groups()):
        raise ValueError(f"{text!r} is not a duration like 7d, 6h, 1h30m or 90s")
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    value = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    if value <= timedelta(0):
        raise ValueError(f"{text!r}: a duration must be longer than zero")
    return value


class ResultReason(BaseModel):
    code: str
    message: str | None = None  # left out when the message had to be shortened


class ResultCandidate(BaseModel):
    version: str
    uri: str
    digest: str
    report_uri: str = Field(alias="reportUri")
    html_report_uri: str | None = Field(default=None, alias="htmlReportUri")


class RetrainResult(BaseModel):
    """What a reader of the termination message (the operator) may rely on; the other
    fields of the result (data, metrics, fairness, importance, ...) pass through as-is."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    schema_id: Literal["vigia.dev/retrain-result/v1"] = Field(alias="schema")
    verdict: Verdict
    reasons: list[ResultReason]
    candidate: ResultCandidate | None = None
    metrics: dict[str, Any] | None = None
    fairness: dict[str, Any] | None = None

    @property
    def accepted(self) -> bool:
        return self.verdict == ACCEPTED and self.candidate is not None


def parse_result(message: str) -> RetrainResult:
    """The result from a terminated container's message; ValueError says what is wrong."""
    try:
        return RetrainResult.model_validate_json(message)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "message"
        raise ValueError(f"not a {RESULT_SCHEMA} result: {where}: {first['msg']}") from err
