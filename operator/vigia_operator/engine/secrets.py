"""The Secret policy's API side: may this ModelDeployment reference that Secret?

Reads only a Secret's metadata (a PartialObjectMetadata GET, never its data). The
operator's own RBAC has no Secret permission: the Secret's namespace grants get on it by
name (manifests/samples/secret-grant.yaml), so a Secret nobody granted is refused, and
unread, whatever its labels (docs/security.md). An allowed Secret is remembered for
``ttl`` seconds, so a reconcile without drift makes no call, and removing the label or the
grant takes effect within ``ttl``; a refused or missing one is asked again at each
reconcile, so fixing it takes effect at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from vigia_operator.core.config import OperatorSettings
from vigia_operator.kube.client import KubeAPI, KubeError
from vigia_operator.view import ModelDeploymentView
from vigia_operator.view.policy import Refusal, secret_allowed, secret_refusal

STORE_FIELD = "spec.serving.predictionLog.storeSecretRef"
TTL_SECONDS = 300.0


class SecretCheck:
    def __init__(self, kube: KubeAPI, settings: OperatorSettings, ttl: float = TTL_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._kube = kube
        self._settings = settings
        self._ttl = ttl
        self._clock = clock
        self._allowed_until: dict[tuple[str, str], float] = {}

    async def check(self, md: ModelDeploymentView) -> Refusal | None:
        for field, name in self.references(md):
            refusal = await self._verdict(md.namespace, name, field)
            if refusal is not None:
                return refusal
        return None

    @staticmethod
    def references(md: ModelDeploymentView) -> list[tuple[str, str]]:
        """(field, Secret name) of every Secret md references."""
        store = md.serving.store
        return [] if store is None else [(f"{STORE_FIELD}.name", store.name)]

    async def _verdict(self, namespace: str, name: str, field: str) -> Refusal | None:
        now = self._clock()
        if self._allowed_until.get((namespace, name), 0.0) > now:
            return None
        self._allowed_until.pop((namespace, name), None)
        try:
            meta = (await self._kube.get("v1", "Secret", namespace, name,
                                         metadata_only=True)).get("metadata") or {}
        except KubeError as error:
            if error.not_found:
                return secret_refusal(field, name, self._settings, "missing")
            if error.forbidden:
                return secret_refusal(field, name, self._settings, "not granted")
            raise
        if not secret_allowed(meta.get("labels"), self._settings):
            return secret_refusal(field, name, self._settings, "unlabelled")
        self._allowed_until[(namespace, name)] = now + self._ttl
        return None
