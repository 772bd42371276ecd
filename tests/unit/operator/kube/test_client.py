from __future__ import annotations

from vigia_operator.core import resources as r
from vigia_operator.kube.client import KubeError, api_error, path, watchable


def test_paths_come_from_the_kind_table() -> None:
    assert path("apps/v1", "Deployment", "ml", "m-stable") == (
        "/apis/apps/v1/namespaces/ml/deployments/m-stable")
    assert path("v1", "Secret", "ml", "db") == "/api/v1/namespaces/ml/secrets/db"
    assert path(r.API_VERSION, r.KIND, None) == "/apis/vigia.dev/v1alpha1/modeldeployments"
    for kind in r.CHILD_KINDS:
        assert path(kind.api_version, kind.kind, "ns").endswith(f"/namespaces/ns/{kind.plural}")


def test_the_api_status_gives_reason_and_message() -> None:
    error = api_error(409, "Conflict", b'{"kind":"Status","reason":"AlreadyExists",'
                                       b'"message":"services \\"x\\" already exists"}')
    assert error.already_exists and error.status == 409
    assert error.message == 'services "x" already exists'
    assert KubeError(403, "Forbidden", "namespace ml is being terminated").namespace_terminating
    assert not api_error(500, "Internal", b"not json").already_exists


def test_requests_are_counted_by_kind() -> None:
    from vigia_operator.kube.client import _what

    assert _what("PATCH", "/apis/apps/v1/namespaces/ml/deployments/x",
                 "application/apply-patch+yaml") == "apply"
    assert _what("PATCH", "/apis/vigia.dev/v1alpha1/namespaces/ml/modeldeployments/x/status",
                 "application/merge-patch+json") == "status"
    assert _what("POST", "/api/v1/namespaces/ml/events", "application/json") == "post events"
    assert _what("GET", "/api/v1/namespaces/ml/secrets/db", None) == "get secrets"
    assert _what("GET", "/apis/vigia.dev/v1alpha1/modeldeployments", None) == (
        "get modeldeployments")
    assert _what("GET", "/apis/gateway.networking.k8s.io/v1", None) == "discovery"
    assert _what("GET", "/api/v1", None) == "discovery"


def test_a_kind_is_watchable_when_its_discovery_lists_it_with_list_and_watch() -> None:
    def discovery(*verbs: str) -> dict[str, object]:
        return {"kind": "APIResourceList", "groupVersion": r.HTTPROUTE.api_version,
                "resources": [{"name": "httproutes/status", "verbs": ["get", "patch"]},
                              {"name": "httproutes", "verbs": list(verbs)}]}

    assert watchable(discovery("get", "list", "watch", "create", "patch"), r.HTTPROUTE)
    assert not watchable(discovery("get", "create"), r.HTTPROUTE)
    assert not watchable({"resources": []}, r.HTTPROUTE)
    assert r.HTTPROUTE.resource == "httproutes.gateway.networking.k8s.io/v1"
