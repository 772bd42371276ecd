"""The tick's collection step: one call per tick for every ModelDeployment.

A ``SignalProvider`` measures what the decisions need (drift, accuracy, KPIs... from
Prometheus, one query per signal for all models) and returns it per model. The engine
passes each model's ``Signals`` to its reconcile, and through it to the section
computers. The default provider collects nothing; monitoring plugs its own in
(``Engine(provider=...)``, see ``vigia_operator.__main__``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from vigia_operator.spec import ModelDeploymentView


@dataclass(frozen=True, order=True)
class ModelRef:
    namespace: str
    name: str

    @classmethod
    def of(cls, md: ModelDeploymentView) -> ModelRef:
        return cls(md.namespace, md.name)

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class Signals:
    """One model's measurements from one collection.

    ``values`` is the provider's (e.g. ``{"drift": 0.31, "accuracy": 0.87}``); ``error``
    says the collection failed (e.g. Prometheus down), an explicit state, never a pass.
    """

    collected_at: str
    values: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None


class SignalProvider(Protocol):
    async def collect(self, models: Sequence[ModelDeploymentView]) -> Mapping[ModelRef, Signals]:
        """Measure every model at once (batched: a query per signal, not per model)."""
        ...


class NoSignals:
    """The default provider: monitoring is off, nothing is collected."""

    async def collect(self, models: Sequence[ModelDeploymentView]) -> Mapping[ModelRef, Signals]:
        return {}
