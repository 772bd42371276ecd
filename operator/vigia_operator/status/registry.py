"""The section computers the engine runs after each reconcile's applies, in order.

Adding a section (canary, monitoring, retraining, history) is a module with its computer
and one line here.
"""

from __future__ import annotations

from typing import Final

from vigia_operator.status.monitoring import monitoring_sections
from vigia_operator.status.rollout import rollout_sections
from vigia_operator.status.sections import SectionComputer
from vigia_operator.status.serving import serving_sections

# The rollout's comes after serving's: status.stable is the rollout's to name.
SECTIONS: Final[tuple[SectionComputer, ...]] = (
    serving_sections, rollout_sections, monitoring_sections,
)
