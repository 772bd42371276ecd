"""The report's calibration section: the reliability diagram from the bundle's metadata."""

from __future__ import annotations

from dataclasses import replace

from vigia.report.build import _calibration
from vigia.sample import train_sample_model


def test_the_section_draws_the_reliability_diagram_and_says_whether_there_is_an_estimate() -> None:
    bundle = train_sample_model(rows=2000, seed=1)
    check = bundle.metadata.calibration
    assert check is not None
    section = _calibration(bundle)
    assert section.empty is None and len(section.parts) == 1
    assert section.parts[0].startswith("<svg") and "reliability" in section.parts[0]
    assert f"On {check.rows:,} held-out rows" in section.lede
    refused = replace(check, reason="calibration error 0.120 on the holdout is above 0.05")
    bundle.metadata.calibration = refused
    assert "no accuracy estimate without labels" in _calibration(bundle).lede
    bundle.metadata.calibration = None
    assert _calibration(bundle).empty is not None and "without a holdout" in (
        _calibration(bundle).empty or "")
