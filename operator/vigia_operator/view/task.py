"""What a ModelDeployment's model predicts (spec.model.task), read by every view that
judges it: a classifier by accuracy, a regressor by its errors in its own units."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

Task = Literal["Classification", "Regression"]
TASKS: tuple[Task, ...] = ("Classification", "Regression")
REGRESSION: Task = "Regression"


def is_regression(spec: Mapping[str, Any]) -> bool:
    """Whether spec.model.task says Regression (the CRD defaults it to Classification)."""
    model = spec.get("model")
    return isinstance(model, Mapping) and model.get("task") == REGRESSION
