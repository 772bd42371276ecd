"""Test helpers that must be importable by module path (pickled estimators)."""

from __future__ import annotations

from typing import Any, ClassVar

from sklearn.linear_model import LogisticRegression


class UnpickleCountingClassifier(LogisticRegression):
    """A classifier that counts how often an instance of it is unpickled."""

    unpickled: ClassVar[int] = 0

    def __setstate__(self, state: dict[str, Any]) -> None:
        type(self).unpickled += 1
        super().__setstate__(state)
