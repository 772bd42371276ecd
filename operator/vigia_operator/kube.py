"""A small JSON client for the few API calls the operator makes, on the official client's
transport and credentials (kubeconfig or in-cluster service account)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

import kubernetes
from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException
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


def path(api_version: str, kind: str, namespace: str, name: str | None = None) -> str:
    base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    out = f"{base}/namespaces/{namespace}/{PLURALS[(api_version, kind)]}"
    return out if name is None else f"{out}/{name}"


class Kube:
    """Thread-safe (urllib3 pools); sync handlers call it from kopf's executor threads."""

    def __init__(self, client: ApiClient | None = None) -> None:
        self._client = client or ApiClient()

    def apply(self, obj: Mapping[str, Any]) -> Obj:
        """Server-side apply ``obj`` (creates it if missing), forcing the operator's fields."""
        meta = obj["metadata"]
        url = path(obj["apiVersion"], obj["kind"], meta["namespace"], meta["name"])
        return self._call(
            "PATCH", url, body=obj,
            query=[("fieldManager", r.FIELD_MANAGER), ("force", "true")],
            content_type="application/apply-patch+yaml",
        )

    def create(self, obj: Mapping[str, Any]) -> Obj:
        url = path(obj["apiVersion"], obj["kind"], obj["metadata"]["namespace"])
        return self._call("POST", url, body=obj, content_type="application/json")

    def get(self, api_version: str, kind: str, namespace: str, name: str) -> Obj:
        return self._call("GET", path(api_version, kind, namespace, name))

    def patch_status(self, namespace: str, name: str, status: Mapping[str, Any]) -> Obj:
        url = path(r.API_VERSION, r.KIND, namespace, name) + "/status"
        return self._call(
            "PATCH", url, body={"status": status}, content_type="application/merge-patch+json"
        )

    def _call(
        self,
        method: str,
        url: str,
        *,
        body: Any = None,
        query: list[tuple[str, str]] | None = None,
        content_type: str | None = None,
    ) -> Obj:
        headers = {"Accept": "application/json"}
        if content_type is not None:
            headers["Content-Type"] = content_type
        try:
            request = self._client.param_serialize(
                method, url, query_params=query, header_params=headers, body=body,
                auth_settings=["BearerToken"],
            )
            response = self._client.call_api(*request, _request_timeout=TIMEOUT)
            data = response.read()
        except ApiException as error:
            raise _api_error(error.status or 0, error.reason or "", error.body) from error
        except (HTTPError, OSError) as error:
            raise KubeError(0, "Unreachable", str(error)) from error
        if not 200 <= response.status < 300:
            raise _api_error(response.status, response.reason or "", data)
        return dict(json.loads(data)) if data else {}


def _api_error(status: int, reason: str, body: str | bytes | None) -> KubeError:
    """The API's own message (a Status object) when there is one."""
    message = body.decode(errors="replace") if isinstance(body, bytes) else body or ""
    try:
        parsed = json.loads(message)
        message = str(parsed.get("message", message))
    except (ValueError, AttributeError):
        pass
    return KubeError(status, reason, message)
