"""The error every spec reader raises (a leaf: the section readers import it too)."""

from __future__ import annotations


class SpecError(ValueError):
    """A ModelDeployment the operator cannot act on; the message names the field."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
