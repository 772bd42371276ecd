"""helm test: a sample ModelDeployment becomes Ready, then is deleted.

Run in the cluster by the chart's test hook (tests/model-ready.yaml) as a ServiceAccount
that may only create, get and delete ModelDeployments in one namespace; outside it, the
same with $KUBECONFIG.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import time
from typing import Any

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

GROUP, VERSION, PLURAL = "vigia.dev", "v1alpha1", "modeldeployments"


def connect() -> client.CustomObjectsApi:
    try:
        config.load_incluster_config()
    except config.ConfigException:
        config.load_kube_config()
    return client.CustomObjectsApi()


def ready(md: dict[str, Any]) -> bool:
    status = md.get("status") or {}
    conditions = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
    return bool(conditions.get("Ready") == "True"
                and status.get("observedGeneration") == md["metadata"]["generation"])


def wait_ready(api: client.CustomObjectsApi, namespace: str, name: str,
               timeout: float) -> dict[str, Any] | None:
    deadline = time.monotonic() + timeout
    md: dict[str, Any] = {}
    while time.monotonic() < deadline:
        md = api.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
        if ready(md):
            return md
        time.sleep(2)
    print(f"FAIL: {namespace}/{name} not Ready after {timeout:.0f}s; status:\n"
          f"{json.dumps(md.get('status'), indent=2)}", file=sys.stderr)
    return None


def main() -> int:
    namespace = os.environ["VIGIA_TEST_NAMESPACE"]
    name = f"helm-test-{secrets.token_hex(3)}"
    spec: dict[str, Any] = {"model": {"uri": os.environ["VIGIA_TEST_MODEL_URI"]}}
    image = os.environ.get("VIGIA_TEST_SERVING_IMAGE")
    if image:
        spec["serving"] = {"image": image}
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "ModelDeployment",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/component": "helm-test"}},
        "spec": spec,
    }
    api = connect()
    api.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, body)
    print(f"created ModelDeployment {namespace}/{name}", flush=True)
    try:
        md = wait_ready(api, namespace, name,
                        float(os.environ.get("VIGIA_TEST_TIMEOUT_SECONDS", "300")))
    finally:
        try:
            api.delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
        except ApiException as error:
            print(f"could not delete {namespace}/{name}: {error.reason}", file=sys.stderr)
    if md is None:
        return 1
    stable = (md.get("status") or {}).get("stable") or {}
    print(f"{namespace}/{name} Ready, serving version {stable.get('version')}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
