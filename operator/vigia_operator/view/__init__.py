"""The ModelDeployment's spec: a typed view of it (``view``) and the operator's policy on
what a spec may ask for (``policy``)."""

from vigia_operator.view.model import (
    Model,
    ModelDeploymentView,
    SecretKey,
    Serving,
    SpecError,
    parse,
    version_of,
)

__all__ = [
    "Model", "ModelDeploymentView", "SecretKey", "Serving", "SpecError", "parse", "version_of",
]
