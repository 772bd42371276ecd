"""Segments: drift judged within each value of a categorical feature, not only overall.

A drift confined to one segment (one flour supplier's batches) can hide in the whole
population's statistic: the segment is a tenth of the rows, its shift is diluted tenfold.
``spec.monitoring.segments`` names categorical features; for each, the servers count the
input bins per value of that feature and export the training reference of each value, so
Prometheus computes a drift score per (segment feature, value, feature).

Bounded: a segment feature must be categorical with at most ``MAX_SEGMENT_VALUES``
training categories (the series grow with values x features x bins). The bundle's profile
holds the per-value references of exactly those features, so a feature the profile has no
segment reference for is refused by the server: the model does not load, and says why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from vigia import drift

MAX_SEGMENT_VALUES: Final = 20
MAX_SEGMENTS: Final = 3  # segment features per ModelDeployment (the CRD's maxItems)


class SegmentError(ValueError):
    """A segment feature that cannot be monitored (not categorical, too many values)."""


@dataclass(frozen=True)
class SegmentProfile:
    """The training reference within each value of one categorical feature: per value, its
    rows and each input feature's bin shares (the population's bins)."""

    values: tuple[str, ...]
    rows: Mapping[str, int]
    shares: Mapping[str, Mapping[str, Mapping[str, float]]]  # value -> feature -> bin -> share

    def to_dict(self) -> dict[str, Any]:
        return {"values": list(self.values), "rows": dict(self.rows),
                "shares": {v: {f: dict(b) for f, b in fs.items()}
                           for v, fs in self.shares.items()}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SegmentProfile:
        return cls(values=tuple(str(v) for v in data["values"]),
                   rows={str(k): int(v) for k, v in data["rows"].items()},
                   shares={str(v): {str(f): {str(b): float(s) for b, s in bins.items()}
                                    for f, bins in fs.items()}
                           for v, fs in data["shares"].items()})


def segmentable(categories: Sequence[str]) -> bool:
    return 0 < len(categories) <= MAX_SEGMENT_VALUES


def check_segments(names: Sequence[str], profiles: Mapping[str, SegmentProfile],
                   categorical: Mapping[str, Sequence[str]]) -> None:
    """SegmentError naming the first feature that cannot be a segment."""
    if len(names) > MAX_SEGMENTS:
        raise SegmentError(f"{len(names)} segment features; at most {MAX_SEGMENTS}")
    for name in names:
        if name in profiles:
            continue
        if name not in categorical:
            raise SegmentError(f"segment {name!r} is not a categorical feature of the model")
        raise SegmentError(f"segment {name!r} has {len(categorical[name])} training values;"
                           f" at most {MAX_SEGMENT_VALUES}")


def label(feature: str, value: str) -> str:
    """How a decision names a segment: ``flour_supplier=molinos_sur``."""
    return f"{feature}={value}"


def segment_psi(reference: SegmentProfile,
                counts: Mapping[str, Mapping[str, Mapping[str, float]]]) -> dict[
                    tuple[str, str], float]:
    """PSI of each (value, feature) from live counts (value -> feature -> bin -> rows),
    against the value's own training reference, as vigia.drift computes it."""
    out: dict[tuple[str, str], float] = {}
    for value, features in counts.items():
        for feature, bins in features.items():
            expected = reference.shares.get(value, {}).get(feature)
            if expected and sum(bins.values()) > 0:
                out[(value, feature)] = drift.psi(expected, bins)
    return out
