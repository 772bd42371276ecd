"""The one time module: the Kubernetes time format (RFC 3339, seconds, UTC) both ways.

Every timestamp the operator writes (status, Events, Job names' buckets) and reads back
goes through here; a reconcile reads the clock once (``utcnow``) and passes the value on.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Final

TIME_FORMAT: Final = "%Y-%m-%dT%H:%M:%SZ"
MICRO_TIME_FORMAT: Final = "%Y-%m-%dT%H:%M:%S.%fZ"  # a Lease's renewTime (MicroTime)
# Work due every interval is due once this share of it has passed, so that a tick landing a
# moment early does not postpone it by a whole interval.
DUE_SHARE: Final = 0.9


def utcnow() -> datetime:
    """Now, in UTC, to the second (what status can hold)."""
    return datetime.now(UTC).replace(microsecond=0)


def iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime(TIME_FORMAT)


def iso_from_unix(seconds: float) -> str:
    return iso(datetime.fromtimestamp(seconds, UTC))


def parse_time(text: Any) -> datetime | None:
    """A status timestamp; None for anything that is not one (never raises)."""
    if not isinstance(text, str):
        return None
    return _parsed(text)


# A status holds a few timestamps that every reconcile reads again; strptime was a tenth of
# a monitoring tick's reconcile.
@lru_cache(maxsize=8192)
def _parsed(text: str) -> datetime | None:
    try:
        return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


def unix(text: Any) -> float | None:
    parsed = parse_time(text)
    return None if parsed is None else parsed.timestamp()


def micro_iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime(MICRO_TIME_FORMAT)


def parse_micro_time(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.strptime(text.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S.%f%z")
