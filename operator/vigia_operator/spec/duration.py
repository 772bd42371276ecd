"""The CRD's one duration form, ``^([0-9]+(ms|s|m|h))+$`` (``30s``, ``2m``, ``1h30m``,
``500ms``), read the same way for every field that holds one."""

from __future__ import annotations

import re
from typing import Final

from vigia_operator.spec.errors import SpecError

_PART: Final = re.compile(r"([0-9]+)(ms|s|m|h)")
_UNIT_SECONDS: Final = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: object, field: str) -> float:
    """Seconds in `text`; SpecError naming `field` for anything but the CRD's form."""
    parts = _PART.findall(text) if isinstance(text, str) else []
    if not parts or "".join(n + u for n, u in parts) != text:
        raise SpecError(field, f"{text!r} is not a duration like 30s, 2m, 1h30m or 500ms")
    return sum(int(n) * _UNIT_SECONDS[unit] for n, unit in parts)
