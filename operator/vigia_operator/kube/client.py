"""A small asynchronous JSON client for the few API calls the operator makes.

It runs on kopf's event loop (aiohttp, which kopf already uses) with the credentials of
kopf's own login (``kopf.ConnectionInfo``), so the operator needs neither threads nor the
official client library (whose import alone costs ~40 MiB of resident memory).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, Final, Protocol
from urllib.parse import urlencode

import aiohttp
import kopf

from vigia_operator.core import resources as r

Obj = dict[str, Any]
TIMEOUT: Final = 30.0
# Only the metadata of an object (a Secret's labels, never its data).
METADATA_ONLY: Final = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"
Login = Callable[[], kopf.ConnectionInfo | None]


class KubeError(Exception):
    """A failed API call: ``status`` is the HTTP status (0 when the server was unreachable)."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message

    @property
    def not_found(self) -> bool:
        return self.status == 404

    @property
    def already_exists(self) -> bool:
        return self.status == 409 and self.reason == "AlreadyExists"

    @property
    def forbidden(self) -> bool:
        """Refused by RBAC (not by a namespace being deleted)."""
        return self.status == 403 and not self.namespace_terminating

    @property
    def namespace_terminating(self) -> bool:
        """Refused because the namespace is being deleted: nothing to do there any more."""
        return self.status == 403 and "being terminated" in self.message


def group_version_path(api_version: str) -> str:
    return "/api/v1" if api_version == "v1" else f"/apis/{api_version}"


def watchable(discovery: Mapping[str, Any], kind: r.ChildKind) -> bool:
    """Whether a group version's discovery document lists ``kind`` with list and watch."""
    return any(resource.get("name") == kind.plural
               and {"list", "watch"} <= set(resource.get("verbs") or ())
               for resource in discovery.get("resources") or ())


def path(api_version: str, kind: str, namespace: str | None, name: str | None = None) -> str:
    """The URL path of a collection (no name) or an object; no namespace: every namespace."""
    base = group_version_path(api_version)
    scope = "" if namespace is None else f"/namespaces/{namespace}"
    out = f"{base}{scope}/{r.PLURALS[(api_version, kind)]}"
    return out if name is None else f"{out}/{name}"


class StatusAPI(Protocol):
    """What the status writer asks of the API server."""

    async def patch_status(self, namespace: str, name: str,
                           status: Mapping[str, Any]) -> Obj: ...


class CreateAPI(Protocol):
    """What posting an Event asks of the API server."""

    async def create(self, obj: Mapping[str, Any]) -> Obj: ...


class DiscoveryAPI(Protocol):
    """What the operator's start asks of the API server: which kinds it serves."""

    async def serves(self, kind: r.ChildKind) -> bool: ...


class KubeAPI(StatusAPI, CreateAPI, Protocol):
    """What a reconcile asks of the API server: ``Kube`` in the operator, an in-memory
    stand-in in the engine's unit tests."""

    async def apply(self, obj: Mapping[str, Any]) -> Obj: ...

    async def get(self, api_version: str, kind: str, namespace: str, name: str,
                  *, metadata_only: bool = False) -> Obj: ...

    def list(self, api_version: str, kind: str, namespace: str | None,
             label_selector: str | None = None, page: int = 100) -> AsyncIterator[Obj]: ...

    async def remove_annotation(self, api_version: str, kind: str, namespace: str, name: str,
                                key: str) -> Obj: ...

    async def delete(self, api_version: str, kind: str, namespace: str, name: str,
                     uid: str) -> None: ...


class Kube:
    """One aiohttp session; ``calls`` counts the requests made (the benchmark reads it)."""

    def __init__(self, login: Login, pool_size: int = 16) -> None:
        self._login = login
        self._pool_size = pool_size
        self._info: kopf.ConnectionInfo | None = None
        self._session: aiohttp.ClientSession | None = None
        self.calls = 0
        self.calls_by: dict[str, int] = {}  # by kind of request: apply, create, get, ...

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def apply(self, obj: Mapping[str, Any]) -> Obj:
        """Server-side apply ``obj``, forcing the operator's fields. Only for objects the
        operator controls: it would take over anyone's object of that name."""
        meta = obj["metadata"]
        url = path(obj["apiVersion"], obj["kind"], meta["namespace"], meta["name"])
        return await self._call(
            "PATCH", url, body=obj,
            query={"fieldManager": r.FIELD_MANAGER, "force": "true"},
            content_type="application/apply-patch+yaml",  # JSON is YAML
        )

    async def create(self, obj: Mapping[str, Any]) -> Obj:
        """Create ``obj``; an existing object of that name is a KubeError (409), never
        overwritten."""
        url = path(obj["apiVersion"], obj["kind"], obj["metadata"]["namespace"])
        return await self._call("POST", url, body=obj, query={"fieldManager": r.FIELD_MANAGER},
                                content_type="application/json")

    async def get(self, api_version: str, kind: str, namespace: str, name: str,
                  *, metadata_only: bool = False) -> Obj:
        return await self._call("GET", path(api_version, kind, namespace, name),
                                accept=METADATA_ONLY if metadata_only else None)

    async def replace(self, obj: Mapping[str, Any]) -> Obj:
        """PUT: fails with 409 if ``obj``'s resourceVersion is no longer current."""
        meta = obj["metadata"]
        url = path(obj["apiVersion"], obj["kind"], meta["namespace"], meta["name"])
        return await self._call("PUT", url, body=obj, content_type="application/json")

    async def list(self, api_version: str, kind: str, namespace: str | None,
                   label_selector: str | None = None, page: int = 100) -> AsyncIterator[Obj]:
        """Every object of a kind, fetched a page at a time (bounded memory)."""
        query = {"limit": str(page)}
        if label_selector:
            query["labelSelector"] = label_selector
        while True:
            found = await self._call("GET", path(api_version, kind, namespace), query=query)
            for item in found.get("items") or []:
                yield item
            token = (found.get("metadata") or {}).get("continue")
            if not token:
                return
            query["continue"] = token

    async def remove_annotation(self, api_version: str, kind: str, namespace: str, name: str,
                                key: str) -> Obj:
        """Delete one annotation (a merge patch; other fields and managers untouched)."""
        return await self._call(
            "PATCH", path(api_version, kind, namespace, name),
            body={"metadata": {"annotations": {key: None}}},
            content_type="application/merge-patch+json",
        )

    async def delete(self, api_version: str, kind: str, namespace: str, name: str,
                     uid: str) -> None:
        """Delete the object of that uid (a precondition: never a namesake created since);
        gone already is done."""
        options = {"apiVersion": "v1", "kind": "DeleteOptions", "preconditions": {"uid": uid}}
        try:
            await self._call("DELETE", path(api_version, kind, namespace, name), body=options,
                             content_type="application/json")
        except KubeError as error:
            if not error.not_found:
                raise

    async def serves(self, kind: r.ChildKind) -> bool:
        """Whether the API server serves ``kind`` with list and watch (the discovery of its
        group version, which is not found at all when no CRD defines it)."""
        try:
            found = await self._call("GET", group_version_path(kind.api_version))
        except KubeError as error:
            if error.not_found:
                return False
            raise
        return watchable(found, kind)

    async def patch_status(self, namespace: str, name: str, status: Mapping[str, Any]) -> Obj:
        url = path(r.API_VERSION, r.KIND, namespace, name) + "/status"
        return await self._call("PATCH", url, body={"status": status},
                                content_type="application/merge-patch+json")

    def _connect(self) -> tuple[aiohttp.ClientSession, kopf.ConnectionInfo]:
        if self._session is None or self._info is None:
            info = self._login()
            if info is None:
                raise KubeError(0, "NoCredentials", "no kubeconfig or service account found")
            connector = aiohttp.TCPConnector(limit=self._pool_size, ssl=info.as_ssl_context())
            self._session = aiohttp.ClientSession(
                base_url=None, connector=connector,
                timeout=aiohttp.ClientTimeout(total=TIMEOUT),
            )
            self._info = info
        return self._session, self._info

    async def _call(self, method: str, url: str, *, body: Any = None,
                    query: Mapping[str, str] | None = None, content_type: str | None = None,
                    accept: str | None = None, relogin: bool = True) -> Obj:
        session, info = self._connect()
        headers = {"Accept": accept or "application/json", "User-Agent": r.FIELD_MANAGER,
                   **info.as_http_headers()}
        if content_type is not None:
            headers["Content-Type"] = content_type
        full = info.server.rstrip("/") + url + (f"?{urlencode(query)}" if query else "")
        self.calls += 1
        what = _what(method, url, content_type)
        self.calls_by[what] = self.calls_by.get(what, 0) + 1
        try:
            async with session.request(
                method, full, headers=headers,
                data=None if body is None else json.dumps(body).encode(),
            ) as response:
                data = await response.read()
                status, reason = response.status, response.reason or ""
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            raise KubeError(0, "Unreachable", str(error) or type(error).__name__) from error
        if status == 401 and relogin:  # a rotated service-account token: log in again
            await self.close()
            self._info = None
            return await self._call(method, url, body=body, query=query,
                                    content_type=content_type, accept=accept, relogin=False)
        if not 200 <= status < 300:
            raise api_error(status, reason, data)
        return dict(json.loads(data)) if data else {}


def _what(method: str, url: str, content_type: str | None) -> str:
    """A request's kind for the counters: apply, status, create <plural>, get <plural>..."""
    if content_type == "application/apply-patch+yaml":
        return "apply"
    if url.endswith("/status"):
        return "status"
    parts = url.split("?")[0].strip("/").split("/")
    if len(parts) <= (3 if parts[0] == "apis" else 2):  # /apis/<group>/<version>, /api/v1
        return "discovery"
    if "namespaces" in parts and len(parts) > parts.index("namespaces") + 2:
        plural = parts[parts.index("namespaces") + 2]
    else:  # every namespace: /api/v1/<plural> or /apis/<group>/<version>/<plural>
        plural = parts[3 if parts[0] == "apis" else 2]
    return f"{method.lower()} {plural}"


def api_error(status: int, reason: str, body: bytes | None) -> KubeError:
    """The API's own reason and message (a Status object) when there is one."""
    message = body.decode(errors="replace") if body else ""
    try:
        parsed = json.loads(message)
        message = str(parsed.get("message", message))
        reason = str(parsed.get("reason") or reason)
    except (ValueError, AttributeError):
        pass
    return KubeError(status, reason, message)
