"""A small JSON client for the few API calls the operator makes.

Credentials come from the official client's config loaders (kubeconfig or in-cluster
service account); requests go through urllib3 directly, so the operator does not depend on
the generated client's internals, which change between its releases.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any, Final
from urllib.parse import urlencode

import kubernetes
import urllib3
from kubernetes.client import Configuration
from urllib3.exceptions import HTTPError

from vigia_operator import resource as r

Obj = dict[str, Any]

PLURALS: Final[dict[tuple[str, str], str]] = {
    ("v1", "ServiceAccount"): "serviceaccounts",
    ("v1", "ConfigMap"): "configmaps",
    ("v1", "Service"): "services",
    ("apps/v1", "Deployment"): "deployments",
    ("v1", "Event"): "events",
    (r.API_VERSION, r.KIND): r.PLURAL,
}
TIMEOUT: Final = 30.0


class KubeError(Exception):
    """A failed API call: ``status`` is the HTTP status (0 when the server was unreachable)."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message

    @property
    def retryable(self) -> bool:
        """Worth retrying: unreachable, conflicts, throttling, timeouts, server errors."""
        return self.status in (0, 409, 429) or self.status >= 500

    @property
    def not_found(self) -> bool:
        return self.status == 404

    @property
    def namespace_terminating(self) -> bool:
        """Refused because the namespace is being deleted: nothing to do there any more."""
        return self.status == 403 and "being terminated" in self.message


def load_config() -> None:
    """Credentials: in-cluster service account, else $KUBECONFIG / ~/.kube/config."""
    try:
        kubernetes.config.load_incluster_config()
    except kubernetes.config.ConfigException:
        kubernetes.config.load_kube_config()


def path(api_version: str, kind: str, namespace: str | None, name: str | None = None) -> str:
    """The URL path of a collection (no name) or an object; no namespace: every namespace."""
    base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    scope = "" if namespace is None else f"/namespaces/{namespace}"
    out = f"{base}{scope}/{PLURALS[(api_version, kind)]}"
    return out if name is None else f"{out}/{name}"


class Kube:
    """Thread-safe (urllib3 pools); sync handlers call it from kopf's executor threads."""

    def __init__(self, config: Configuration | None = None, pool_size: int = 16) -> None:
        self._config = config or Configuration.get_default_copy()
        self._pool = urllib3.PoolManager(
            num_pools=4,
            maxsize=pool_size,
            cert_reqs="CERT_REQUIRED" if self._config.verify_ssl else "CERT_NONE",
            ca_certs=self._config.ssl_ca_cert,
            cert_file=self._config.cert_file,
            key_file=self._config.key_file,
        )

    def apply(self, obj: Mapping[str, Any]) -> Obj:
        """Server-side apply ``obj`` (creates it if missing), forcing the operator's fields."""
        meta = obj["metadata"]
        url = path(obj["apiVersion"], obj["kind"], meta["namespace"], meta["name"])
        return self._call(
            "PATCH", url, body=obj,
            query={"fieldManager": r.FIELD_MANAGER, "force": "true"},
            content_type="application/apply-patch+yaml",  # JSON is YAML
        )

    def create(self, obj: Mapping[str, Any]) -> Obj:
        url = path(obj["apiVersion"], obj["kind"], obj["metadata"]["namespace"])
        return self._call("POST", url, body=obj, content_type="application/json")

    def list(self, api_version: str, kind: str, namespace: str | None,
             label_selector: str | None = None, page: int = 100) -> Iterator[Obj]:
        """Every object of a kind, fetched a page at a time (bounded memory)."""
        query = {"limit": str(page)}
        if label_selector:
            query["labelSelector"] = label_selector
        while True:
            found = self._call("GET", path(api_version, kind, namespace), query=query)
            yield from found.get("items") or []
            token = (found.get("metadata") or {}).get("continue")
            if not token:
                return
            query["continue"] = token

    def get(self, api_version: str, kind: str, namespace: str, name: str) -> Obj:
        return self._call("GET", path(api_version, kind, namespace, name))

    def patch_status(self, namespace: str, name: str, status: Mapping[str, Any]) -> Obj:
        url = path(r.API_VERSION, r.KIND, namespace, name) + "/status"
        return self._call(
            "PATCH", url, body={"status": status}, content_type="application/merge-patch+json"
        )

    def _headers(self, content_type: str | None) -> dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": r.FIELD_MANAGER}
        if content_type is not None:
            headers["Content-Type"] = content_type
        # Newer clients keep the token under "BearerToken", older under "authorization";
        # reading it runs the refresh hook (rotated service-account tokens).
        token = (self._config.get_api_key_with_prefix("BearerToken")
                 or self._config.get_api_key_with_prefix("authorization"))
        if token:
            headers["Authorization"] = token if " " in token else f"Bearer {token}"
        elif self._config.username:
            headers.update(urllib3.make_headers(
                basic_auth=f"{self._config.username}:{self._config.password}"))
        return headers

    def _call(
        self,
        method: str,
        url: str,
        *,
        body: Any = None,
        query: Mapping[str, str] | None = None,
        content_type: str | None = None,
    ) -> Obj:
        full = self._config.host.rstrip("/") + url + (f"?{urlencode(query)}" if query else "")
        try:
            response = self._pool.request(
                method, full, headers=self._headers(content_type),
                body=None if body is None else json.dumps(body).encode(),
                timeout=urllib3.Timeout(total=TIMEOUT), retries=False,
            )
        except (HTTPError, OSError) as error:
            raise KubeError(0, "Unreachable", str(error)) from error
        if not 200 <= response.status < 300:
            raise _api_error(response.status, response.reason or "", response.data)
        return dict(json.loads(response.data)) if response.data else {}


def _api_error(status: int, reason: str, body: str | bytes | None) -> KubeError:
    """The API's own message (a Status object) when there is one."""
    message = body.decode(errors="replace") if isinstance(body, bytes) else body or ""
    try:
        parsed = json.loads(message)
        message = str(parsed.get("message", message))
    except (ValueError, AttributeError):
        pass
    return KubeError(status, reason, message)
