"""The two ways a job ends early: bad input (final) and something unreachable (maybe not)."""

from __future__ import annotations

from vigia.retraining import Reason


class RetrainInputError(ValueError):
    """Input the job cannot work with; ``field`` names the setting at fault."""

    def __init__(self, field: str, message: str, *, code: str = Reason.INVALID_INPUT) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.code = code


class UnavailableError(RuntimeError):
    """A store (dataset, bundle or feedback) that could not be reached; may be transient."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
