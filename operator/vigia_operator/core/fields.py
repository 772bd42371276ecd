"""How a spec field is refused (SpecError, naming the field) and the CRD's one duration form.

A leaf: every section reader imports it (spec.view imports analysis.spec, so neither may
import the other's package for these).
"""

from __future__ import annotations

import re
from typing import Final

_DURATION_PART: Final = re.compile(r"([0-9]+)(ms|s|m|h)")
_UNIT_SECONDS: Final = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


class SpecError(ValueError):
    """A ModelDeployment the operator cannot act on; the message names the field."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field


def parse_duration(text: object, field: str) -> float:
    """Seconds in the CRD's duration form ``^([0-9]+(ms|s|m|h))+$`` (30s, 2m, 1h30m, 500ms);
    SpecError naming `field` for anything else."""
    parts = _DURATION_PART.findall(text) if isinstance(text, str) else []
    if not parts or "".join(n + u for n, u in parts) != text:
        raise SpecError(field, f"{text!r} is not a duration like 30s, 2m, 1h30m or 500ms")
    return sum(int(n) * _UNIT_SECONDS[unit] for n, unit in parts)
