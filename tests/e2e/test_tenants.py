"""Two teams on one cluster, on the real node: the same model name in two namespaces, each
with its own prediction-log login on one PostgreSQL (row-level security, docs/security.md).

Each namespace's servers log under their own namespace, find only their own predictions
when labels come back, and its login reads only its own rows; each ModelDeployment's
monitoring counts only its own predictions, though both models are named alike. Then the
closed loop's first half, for both at once: their drifted traffic is flagged and each
retraining Job trains on its own team's labels alone."""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from vigia_loop import platform as loop
from vigia_operator.decide.retraining.result import termination_message
from vigia_testbed import realnode as p
from vigia_testbed.kube import kubectl, wait_for
from vigia_testbed.pods import IMAGES, apply, tool_pod, wait_ready

pytestmark = pytest.mark.e2e

MODEL = "sobaos"  # the same name in both namespaces
CLIENT = "client"
# Drifted rows, each labelled; different counts: a mix would show as the sum.
ROWS = {"first": 300, "second": 500}
EVALUATED_EVERY = "20s"  # spec.monitoring.interval: the counts show sooner than at 1m
DRIFT_MIN_SAMPLES = 200  # below either team's rows: both drifts are judged

# Runs in a client pod (the project image): `rows` predictions through the Service, each
# true label sent back; then the given prediction ids (another team's) sent as feedback.
TRAFFIC = """
import json, subprocess, sys, urllib.error, urllib.request
base, rows, foreign = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
subprocess.run(["vigia", "sample", "traffic", "--out", "/tmp/rows.jsonl", "--rows", str(rows),
                "--seed", "5", "--drift", "1", "--labels", "/tmp/labels.txt"], check=True)
records = [json.loads(line) for line in open("/tmp/rows.jsonl")]
labels = open("/tmp/labels.txt").read().split()
def post(path, body):
    request = urllib.request.Request(base + path, json.dumps(body).encode(),
                                     {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, None
status, body = post("/predict", {"rows": records})
ids = [p["prediction_id"] for p in body["predictions"]]
acked = [i for i, label in zip(ids, labels)
         if post("/feedback", {"prediction_id": i, "label": label})[0] < 300]
others = [post("/feedback", {"prediction_id": i, "label": labels[0]})[0] for i in foreign]
print(json.dumps({"predicted": ids, "acked": acked, "foreign": others}))
"""

# Runs in a client pod: what a login sees of the log, by namespace.
SEEN = """
import json, sys, sqlalchemy
engine = sqlalchemy.create_engine(sys.argv[1])
with engine.connect() as conn:
    rows = conn.execute(sqlalchemy.text(
        "SELECT namespace, count(*) FROM vigia_predictions GROUP BY namespace")).all()
    labels = conn.execute(sqlalchemy.text("SELECT count(*) FROM vigia_feedback")).scalar()
print(json.dumps({"predictions": {ns: n for ns, n in rows}, "labels": labels}))
"""

# Runs in a client pod as the tables' owner: the tables, row-level security, and one login
# per namespace (what an administrator does once: docs/security.md).
SETUP = """
import json, sys, sqlalchemy
from vigia_serving import store, tenancy
owner, logins = sys.argv[1], json.loads(sys.argv[2])
engine = sqlalchemy.create_engine(owner)
store.metadata.create_all(engine)
with engine.begin() as conn:
    store.migrate_owner(conn)
    for statement in tenancy.row_security_sql():
        conn.execute(sqlalchemy.text(statement))
    for namespace, (login, password) in logins.items():
        for statement in tenancy.namespace_role_sql(namespace, login, password):
            conn.execute(sqlalchemy.text(statement))
"""


@dataclass(frozen=True)
class Team:
    namespace: str
    store_url: str  # its own login's


def _owner_url(kubeconfig: Path) -> str:
    secret = json.loads(kubectl(kubeconfig, "-n", p.SYSTEM, "get", "secret",
                                "vigia-postgresql", "-o", "json"))
    password = base64.b64decode(secret["data"]["password"]).decode()
    return f"postgresql+psycopg://vigia:{password}@{loop.POSTGRES_HOST}:5432/vigia"


def _python(kubeconfig: Path, namespace: str, code: str, *args: str) -> Any:
    out = kubectl(kubeconfig, "-n", namespace, "exec", CLIENT, "--", "python3", "-c", code,
                  *args, timeout=180)
    return json.loads(out.strip().splitlines()[-1]) if out.strip() else None


def _client(kubeconfig: Path, namespace: str) -> None:
    client = tool_pod(CLIENT, image=IMAGES["vigia"])
    client["spec"]["containers"][0]["command"] = ["sleep", "infinity"]
    apply(kubeconfig, client, namespace=namespace)


def _store_secret(kubeconfig: Path, namespace: str, url: str) -> None:
    apply(kubeconfig, {"apiVersion": "v1", "kind": "Secret",
                       "metadata": {"name": loop.STORE_SECRET, "namespace": namespace,
                                    "labels": loop.SECRET_ACCESS_LABEL},
                       "stringData": {"url": url}})


@pytest.fixture(scope="module")
def teams(kubeconfig: Path) -> Iterator[dict[str, Team]]:
    p.install(kubeconfig)
    names = {team: p.restricted_namespace(kubeconfig) for team in ROWS}
    try:
        for namespace in names.values():
            _client(kubeconfig, namespace)
        for namespace in names.values():
            wait_ready(kubeconfig, namespace, f"pod/{CLIENT}")
        logins = {ns: (f"login_{ns.replace('-', '_')}", secrets.token_hex(12))
                  for ns in names.values()}
        owner = _owner_url(kubeconfig)
        _python(kubeconfig, names["first"], SETUP, owner, json.dumps(logins))
        teams = {}
        for team, namespace in names.items():
            login, password = logins[namespace]
            url = (f"postgresql+psycopg://{login}:{password}@{loop.POSTGRES_HOST}:5432/vigia")
            _store_secret(kubeconfig, namespace, url)
            apply(kubeconfig, _model(team), namespace=namespace)
            teams[team] = Team(namespace, url)
        for member in teams.values():
            p.wait_model_ready(kubeconfig, member.namespace, MODEL)
        yield teams
    finally:
        for namespace in names.values():
            kubectl(kubeconfig, "delete", "namespace", namespace, "--wait=false")


@pytest.fixture(scope="module")
def traffic(kubeconfig: Path, teams: dict[str, Team]) -> dict[str, dict[str, Any]]:
    """Each team's traffic, once monitoring watches its server (a burst before the first
    scrape would start the series at its total and count as none); the second team also
    sends the first's prediction ids as feedback."""
    for member in teams.values():
        wait_for(partial(_data_as_of, kubeconfig, member.namespace), 240,
                 f"{member.namespace}/{MODEL}'s server in Prometheus "
                 "(status.monitoring.dataAsOf)", interval=3)
    sent: dict[str, dict[str, Any]] = {}
    for team, rows in ROWS.items():
        namespace = teams[team].namespace
        foreign = sent.get("first", {}).get("predicted", [])[:3]
        sent[team] = _python(kubeconfig, namespace, TRAFFIC, _service_url(kubeconfig, namespace),
                             str(rows), json.dumps(foreign))
    return sent


def _model(team: str) -> dict[str, Any]:
    """The sample, retrained on a drift with its team's labels. The version is the team's
    name: the two candidates' files differ on the volume both namespaces' claims share."""
    model = p.model_deployment(MODEL, p.SAMPLE_URI)
    spec = model["spec"]
    spec["model"]["version"] = team
    spec["monitoring"]["interval"] = EVALUATED_EVERY
    spec["monitoring"]["drift"]["minSamples"] = DRIFT_MIN_SAMPLES
    spec["retraining"].update(
        enabled=True, triggers={"drift": True, "accuracy": False}, promote="Manual",
        dataset={"uri": loop.SAMPLE_DATASET_URI, "target": "quality"},
        job={"resources": {"requests": {"cpu": "100m", "memory": "512Mi"},
                           "limits": {"memory": "2Gi"}}})
    return model


def _data_as_of(kubeconfig: Path, namespace: str) -> str | None:
    return _monitoring(kubeconfig, namespace).get("dataAsOf")


def _counted(kubeconfig: Path, namespace: str) -> float | None:
    samples = _monitoring(kubeconfig, namespace).get("samples") or {}
    return samples.get("predictions") or None


def _monitoring(kubeconfig: Path, namespace: str) -> dict[str, Any]:
    md = json.loads(kubectl(kubeconfig, "-n", namespace, "get", "modeldeployment", MODEL,
                            "-o", "json"))
    return dict((md.get("status") or {}).get("monitoring") or {})


def _service_url(kubeconfig: Path, namespace: str) -> str:
    service = json.loads(kubectl(kubeconfig, "-n", namespace, "get", "services", "-l",
                                 f"app.kubernetes.io/instance={MODEL}", "-o", "json"))["items"][0]
    port = service["spec"]["ports"][0]["port"]
    return f"http://{service['metadata']['name']}.{namespace}.svc.cluster.local:{port}"


def test_each_team_labels_its_own_predictions_and_not_the_others(
        traffic: dict[str, dict[str, Any]]) -> None:
    for team, rows in ROWS.items():
        assert len(traffic[team]["predicted"]) == rows
        assert traffic[team]["acked"] == traffic[team]["predicted"]
    # The first team's prediction ids are unknown to the second team's server.
    assert traffic["second"]["foreign"] == [404, 404, 404]


def test_each_login_reads_only_its_own_namespaces_rows(
        kubeconfig: Path, teams: dict[str, Team], traffic: dict[str, dict[str, Any]]) -> None:
    for team, rows in ROWS.items():
        mine = teams[team]
        seen = _python(kubeconfig, mine.namespace, SEEN, mine.store_url)
        assert seen == {"predictions": {mine.namespace: rows}, "labels": rows}, (team, seen)


def test_each_model_is_monitored_on_its_own_predictions_alone(
        kubeconfig: Path, teams: dict[str, Team], traffic: dict[str, dict[str, Any]]) -> None:
    """Both models are named sobaos: counted together they would show 80 predictions each.
    Prometheus's increase() extrapolates to the window's edges, so a count is near its own
    figure, not exactly it."""
    for team, rows in ROWS.items():
        namespace = teams[team].namespace
        seen = wait_for(partial(_counted, kubeconfig, namespace), 240,
                        f"monitoring of {namespace}/{MODEL} counting its predictions",
                        interval=3)
        assert abs(seen - rows) < min(ROWS.values()) / 2, (team, seen)


def test_each_team_retrains_on_its_own_labels_alone(
        kubeconfig: Path, teams: dict[str, Team], traffic: dict[str, dict[str, Any]]) -> None:
    """Both drifts flagged, both Jobs run at once, each on its own namespace's labelled
    rows: the counts its result reports are its own team's, never the sum."""
    for team, rows in ROWS.items():
        namespace = teams[team].namespace
        job = wait_for(partial(_retrained, kubeconfig, namespace), 420,
                       f"{namespace}/{MODEL}'s retraining Job and its result", interval=3)
        result = _job_result(kubeconfig, namespace, job)
        feedback = result["data"]["feedback"]
        assert (feedback["namespace"], feedback["model"]) == (namespace, MODEL), feedback
        assert feedback["labelled"] == rows, (team, feedback)


def _retrained(kubeconfig: Path, namespace: str) -> str | None:
    """The retraining Job whose result is in status, once the drift started one."""
    md = json.loads(kubectl(kubeconfig, "-n", namespace, "get", "modeldeployment", MODEL,
                            "-o", "json"))
    section = (md.get("status") or {}).get("retraining") or {}
    job = section.get("job")
    return job if job and (section.get("result") or {}).get("job") == job else None


def _job_result(kubeconfig: Path, namespace: str, job: str) -> dict[str, Any]:
    """The JSON result the Job's container left in its termination message."""
    pods = json.loads(kubectl(kubeconfig, "-n", namespace, "get", "pods", "-l",
                              f"batch.kubernetes.io/job-name={job}", "-o", "json"))["items"]
    message = termination_message(pods)
    assert message, f"no result in the termination message of Job {namespace}/{job}"
    return dict(json.loads(message))
