"""An in-memory stand-in for the API client and the indexes, for the engine's unit tests
(the integration tests run the engine against the real control plane)."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

from vigia_operator.core import resources as r
from vigia_operator.core.objects import ChildKey, key_of
from vigia_operator.core.types import ModelRef
from vigia_operator.engine.observed import Seen, seen
from vigia_operator.kube.client import KubeError

Obj = dict[str, Any]


class FakeKube:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str], Obj] = {}  # (namespace, kind, name)
        self.calls: list[tuple[str, str]] = []
        self.events: list[Obj] = []
        self.statuses: list[Obj] = []
        self._version = 100

    def _next(self) -> str:
        self._version += 1
        return str(self._version)

    async def apply(self, obj: Mapping[str, Any]) -> Obj:
        self.calls.append(("apply", f"{obj['kind']}/{obj['metadata']['name']}"))
        stored = copy.deepcopy(dict(obj))
        stored["metadata"]["resourceVersion"] = self._next()
        stored["metadata"]["managedFields"] = [{"manager": r.FIELD_MANAGER, "operation": "Apply"}]
        meta = stored["metadata"]
        self.objects[(meta["namespace"], stored["kind"], meta["name"])] = stored
        return copy.deepcopy(stored)

    async def get(self, api_version: str, kind: str, namespace: str, name: str,
                  *, metadata_only: bool = False) -> Obj:
        self.calls.append(("get", f"{kind}/{name}"))
        found = self.objects.get((namespace, kind, name))
        if found is None:
            raise KubeError(404, "NotFound", f"{kind} {name} not found")
        return copy.deepcopy({"metadata": found["metadata"]} if metadata_only else found)

    async def create(self, obj: Mapping[str, Any]) -> Obj:
        self.calls.append(("create", obj["kind"]))
        if obj["kind"] == "Event":
            self.events.append(dict(obj))
        return dict(obj)

    async def list(self, api_version: str, kind: str, namespace: str | None,
                   label_selector: str | None = None, page: int = 100) -> AsyncIterator[Obj]:
        self.calls.append(("list", kind))
        for (ns, stored_kind, _name), obj in list(self.objects.items()):
            if stored_kind == kind and namespace in (None, ns):
                yield copy.deepcopy(obj)

    async def remove_annotation(self, api_version: str, kind: str, namespace: str, name: str,
                                key: str) -> Obj:
        self.calls.append(("unannotate", f"{kind}/{name}"))
        meta = {"name": name, "namespace": namespace, "resourceVersion": self._next()}
        return {"apiVersion": api_version, "kind": kind, "metadata": meta}

    async def delete(self, api_version: str, kind: str, namespace: str, name: str,
                     uid: str) -> None:
        self.calls.append(("delete", f"{kind}/{name}"))
        self.objects.pop((namespace, kind, name), None)

    async def patch_status(self, namespace: str, name: str, status: Mapping[str, Any]) -> Obj:
        self.calls.append(("status", name))
        self.statuses.append(copy.deepcopy(dict(status)))
        return {"status": dict(status)}


class DictStore:
    def __init__(self) -> None:
        self.bodies: dict[ModelRef, Obj] = {}
        self.child_entries: dict[ModelRef, dict[ChildKey, Seen]] = {}

    def model(self, ref: ModelRef) -> Obj | None:
        return self.bodies.get(ref)

    def models(self) -> Iterator[Obj]:
        yield from self.bodies.values()

    def children(self, ref: ModelRef) -> dict[ChildKey, Seen]:
        return dict(self.child_entries.get(ref, {}))

    def catch_up(self, kube: FakeKube, ref: ModelRef) -> None:
        """What the watches deliver: the cluster's children and the status written."""
        self.child_entries[ref] = {
            key_of(obj): seen(obj) for (ns, _kind, _name), obj in kube.objects.items()
            if ns == ref.namespace
            and (obj["metadata"].get("labels") or {}).get(r.LABEL_OWNER) == ref.name}
        if kube.statuses:
            body = self.bodies[ref]
            body["status"] = kube.statuses[-1]
            body["metadata"]["resourceVersion"] = str(int(
                body["metadata"].get("resourceVersion", "1")) + 1)
