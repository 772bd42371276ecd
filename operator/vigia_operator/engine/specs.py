"""Each ModelDeployment's spec, parsed once per generation.

The API server moves metadata.generation at every change of the spec (the status is a
subresource and metadata changes do not move it), so the typed view of one generation
stays true until the next. Every reconcile and every tick reads the spec: parsed each time
it cost a fifth of an idle tick (docs/operator.md, "An object that did not change").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from vigia_operator.view import ModelDeploymentView, parse
from vigia_operator.view.retraining import RetrainingSpec, parse_retraining

T = TypeVar("T")


@dataclass(frozen=True)
class ParsedSpec:
    md: ModelDeploymentView
    retraining: RetrainingSpec | None  # None: retraining not enabled


@dataclass(frozen=True)
class _Parsed:
    """One generation's parse, each part with the error it raised instead (a SpecError, or
    another for a value the CRD's schema would refuse, reported by the reconcile)."""

    generation: int
    md: ModelDeploymentView | Exception
    retraining: RetrainingSpec | Exception | None


class SpecCache:
    """uid -> its spec as parsed for the latest generation seen."""

    def __init__(self) -> None:
        self._parsed: dict[str, _Parsed] = {}

    def spec(self, body: Mapping[str, Any]) -> ParsedSpec:
        """The parsed spec of ``body``; raises the SpecError naming the unusable field (or
        what else parsing raised)."""
        parsed = self._of(body)
        return ParsedSpec(_value(parsed.md), _value(parsed.retraining))

    def view(self, body: Mapping[str, Any]) -> ModelDeploymentView:
        """The typed view alone (spec.retraining may be unusable)."""
        return _value(self._of(body).md)

    def forget(self, uid: str) -> None:
        self._parsed.pop(uid, None)

    def _of(self, body: Mapping[str, Any]) -> _Parsed:
        meta = body.get("metadata") or {}
        uid, generation = meta.get("uid"), meta.get("generation")
        if not isinstance(uid, str) or not isinstance(generation, int):
            return _parse(body, 0)  # parse() names the missing field
        parsed = self._parsed.get(uid)
        if parsed is None or parsed.generation != generation:
            parsed = self._parsed[uid] = _parse(body, generation)
        return parsed


def _parse(body: Mapping[str, Any], generation: int) -> _Parsed:
    try:
        md: ModelDeploymentView | Exception = parse(body)
    except Exception as error:
        md = error
    try:
        retraining: RetrainingSpec | Exception | None = parse_retraining(body)
    except Exception as error:
        retraining = error
    return _Parsed(generation, md, retraining)


def _value(parsed: T | Exception) -> T:
    if isinstance(parsed, Exception):
        raise parsed.with_traceback(None)
    return parsed
