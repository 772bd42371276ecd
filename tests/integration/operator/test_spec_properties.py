"""Property (issue 21): whatever ModelDeployment the API server accepts, no pure part of the
operator raises anything but the project's own refusal, which becomes a condition.

Specs are generated from the CRD's own openAPIV3Schema (hypothesis-jsonschema), each
section either the sample's or generated, so that many pass the CEL rules; the real API
server judges each one by a server-side dry run (which also applies the schema's
defaults, as the operator sees the object), and ``run_pure_parts`` takes the stored object
through four reconciles. A failing example it finds is kept as a regular test in
tests/unit/operator/engine/test_spec_examples.py. Modest and derandomized by default
(VIGIA_PROPERTY_EXAMPLES raises the count for a longer search).
"""

from __future__ import annotations

import base64
import copy
import json
import os
import ssl
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema
from vigia_testbed.kube import kubectl

from tests.unit.operator.pure_parts import run_pure_parts
from tests.unit.operator.schema import json_schema, sample, schema

pytestmark = pytest.mark.integration

EXAMPLES = int(os.environ.get("VIGIA_PROPERTY_EXAMPLES", "60"))
SPEC = schema()["properties"]["spec"]


class DryRun:
    """The API server's verdict on a ModelDeployment, without storing it."""

    def __init__(self, kubeconfig: Path, namespace: str) -> None:
        config = yaml.safe_load(kubeconfig.read_text())
        context = next(c["context"] for c in config["contexts"]
                       if c["name"] == config["current-context"])
        cluster = next(c["cluster"] for c in config["clusters"]
                       if c["name"] == context["cluster"])
        user = next(u["user"] for u in config["users"] if u["name"] == context["user"])
        self._files = tempfile.TemporaryDirectory()
        tls = ssl.create_default_context(cadata=_pem(cluster, "certificate-authority",
                                                     self._files.name).decode()
                                         if "certificate-authority-data" in cluster else None,
                                         cafile=cluster.get("certificate-authority"))
        headers = {}
        if "token" in user:
            headers["Authorization"] = f"Bearer {user['token']}"
        else:
            tls.load_cert_chain(_file(user, "client-certificate", self._files.name),
                                _file(user, "client-key", self._files.name))
        self._client = httpx.Client(base_url=cluster["server"], verify=tls, headers=headers,
                                    timeout=30)
        self._path = f"/apis/vigia.dev/v1alpha1/namespaces/{namespace}/modeldeployments"

    def stored(self, obj: dict[str, Any]) -> dict[str, Any] | None:
        """The object as the API server would store it (defaulted), None if refused."""
        try:
            body = json.dumps(obj).encode()
        except (TypeError, ValueError):
            return None
        answer = self._client.post(self._path, content=body,
                                   params={"dryRun": "All", "fieldValidation": "Strict"},
                                   headers={"Content-Type": "application/json"})
        if answer.status_code in (400, 422):
            return None
        answer.raise_for_status()
        return dict(answer.json())

    def close(self) -> None:
        self._client.close()
        self._files.cleanup()


def _pem(section: dict[str, Any], key: str, _directory: str) -> bytes:
    return base64.b64decode(section[f"{key}-data"])


def _file(section: dict[str, Any], key: str, directory: str) -> str:
    if key in section:
        return str(section[key])
    path = Path(directory) / key
    path.write_bytes(_pem(section, key, directory))
    return str(path)


@pytest.fixture(scope="module")
def dry_run(installed: Path) -> Iterator[DryRun]:
    namespace = f"t-spec-properties-{uuid.uuid4().hex[:6]}"
    kubectl(installed, "create", "namespace", namespace)
    client = DryRun(installed, namespace)
    try:
        yield client
    finally:
        client.close()
        kubectl(installed, "delete", "namespace", namespace, "--wait=false")


def sections() -> st.SearchStrategy[dict[str, Any]]:
    """A spec whose every section is the sample's, absent, or generated from the schema."""
    base = sample()["spec"]
    sections: dict[str, st.SearchStrategy[Any]] = {}
    for name, node in SPEC["properties"].items():
        choices = [from_schema(json_schema(node))]
        if name in base:  # the sample's more often: it passes the CEL rules
            choices[:0] = [st.builds(copy.deepcopy, st.just(base[name]))] * 2
        sections[name] = st.one_of(*choices)
    required = set(SPEC.get("required") or [])
    return st.fixed_dictionaries(
        {k: v for k, v in sections.items() if k in required},
        optional={k: v for k, v in sections.items() if k not in required})


# Strings whose meaning the schema states only as a pattern or a CEL rule: generated from
# their parts, edge values included, so that the search reaches what they mean (a date that
# never comes, a path that leaves its claim); the API server still judges every one.
CRON_PARTS = (
    ["0", "*", "*/5", "59"],
    ["0", "3", "*", "23"],
    ["*", "1", "29", "30", "31"],
    ["*", "2", "feb", "4", "11"],
    ["*", "*", "*", "1", "mon"],  # a restricted day of week ORs with the day of month
)
OFTEN = st.sampled_from([True, True, True, False])
URI_SCHEMES = ["file", "s3", "pvc", "http", "gs"]
URI_SEGMENTS = ["data", "x.csv", "..", ".", "", "models", "v1.bentomodel", "%2e%2e", "a b"]


def crons() -> st.SearchStrategy[str]:
    fields = st.tuples(*(st.sampled_from(part) for part in CRON_PARTS)).map(" ".join)
    return st.one_of(fields, st.sampled_from(["@daily", "@weekly", "@yearly", "@hourly"]))


def uris() -> st.SearchStrategy[str]:
    path = st.lists(st.sampled_from(URI_SEGMENTS), min_size=1, max_size=4).map("/".join)
    return st.builds(lambda scheme, where: f"{scheme}://{where}",
                     st.sampled_from(URI_SCHEMES), path)


@st.composite
def specs(draw: st.DrawFn) -> dict[str, Any]:
    spec = draw(sections())
    retraining = spec.get("retraining")
    if isinstance(retraining, dict) and draw(OFTEN):
        triggers = retraining.setdefault("triggers", {})
        if isinstance(triggers, dict):
            triggers["schedule"] = draw(crons())
    if isinstance(retraining, dict) and isinstance(retraining.get("dataset"), dict) and draw(
            OFTEN):
        retraining["dataset"]["uri"] = draw(uris())
    if isinstance(spec.get("model"), dict) and draw(st.booleans()):
        spec["model"]["uri"] = draw(uris())
    return spec


@settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow,
                                 HealthCheck.data_too_large, HealthCheck.function_scoped_fixture])
@given(spec=specs())
def test_every_accepted_spec_is_acted_on_or_refused_never_raises(dry_run: DryRun,
                                                                 spec: dict[str, Any]) -> None:
    stored = dry_run.stored({"apiVersion": "vigia.dev/v1alpha1", "kind": "ModelDeployment",
                             "metadata": {"name": "prop"}, "spec": spec})
    assume(stored is not None)
    assert stored is not None
    refusals = run_pure_parts(stored)  # raising anything else fails the property
    event("refused: " + refusals[0].partition(":")[0] if refusals else "acted on")
    if (stored["spec"].get("retraining") or {}).get("enabled"):
        event("retraining enabled")
    for refusal in refusals:
        reason, _, message = refusal.partition(": ")
        assert reason and message, refusal  # a reason for the condition, a message for people
