"""The closed loop on a cluster, step by step, nothing done by hand in between.

Vigía installed from the shipped manifests; the sample model deployed with monitoring,
retraining and canary rollouts on; a normal day of traffic with every label sent back;
a drifted day. From there the operator alone flags the drift, starts a retraining Job,
reads its validated candidate, rolls it out as a canary while traffic keeps coming,
and promotes it. Each step waits for the ModelDeployment's status to show it, and is
marked on the timeline with the numbers the status gives.

The traffic runs in a pod beside the model (`vigia sample send`, the project image), which
scores the answers itself: the accuracy figures are the ones the production line met.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml
from vigia_devcluster.binaries import kubectl_path
from vigia_devcluster.images import references
from vigia_devcluster.kubectl import apply, get, kubectl
from vigia_operator.core import reasons
from vigia_operator.core import resources as r
from vigia_operator.decide.rollout.model import PROMOTING

from vigia_loop import platform as p
from vigia_loop.scale import Scale
from vigia_loop.timeline import Step, Timeline

MODEL: Final = "sobaos"
CLIENT: Final = "production-line"
STOP_FILE: Final = "/tmp/stop"
SEEDS: Final = {"normal": 11, "drifted": 12, "canary": 21, "evaluation": 13}
DRIFT: Final = 1.0
EVENT_WAIT_S: Final = 10.0  # how long a step waits for the Event after the status


@dataclass(frozen=True)
class Loop:
    kubeconfig: Path
    namespace: str
    scale: Scale

    def md(self) -> dict[str, Any]:
        return get(self.kubeconfig, "-n", self.namespace, "modeldeployment", MODEL)

    def status(self) -> dict[str, Any]:
        return dict(self.md().get("status") or {})

    def wait(self, check: Callable[[dict[str, Any]], Any], what: str) -> Any:
        """Poll the status until ``check`` returns something truthy; a timeout says what
        the status was."""
        try:
            return p.until(lambda: check(self.status()), self.scale.timeout_seconds, what,
                           interval=1.0)
        except TimeoutError as error:
            raise TimeoutError(
                f"{error}\nstatus: {json.dumps(self.status())[:4000]}\nthe servers count:\n"
                f"{p.server_counts(self.kubeconfig, self.namespace)[:4000]}") from None

    def send(self, rows: int, seed: int, drift: float) -> dict[str, Any]:
        out = kubectl(self.kubeconfig, "-n", self.namespace, "exec", CLIENT, "--",
                      *send_command(self.namespace, rows=rows, seed=seed, drift=drift),
                      timeout=900)
        return dict(json.loads(out.strip().splitlines()[-1]))


def model_deployment(scale: Scale) -> dict[str, Any]:
    """The shipped sample, on the add-ons' bundle volume, with the scale's intervals."""
    md = yaml.safe_load((p.ROOT / "manifests/samples/modeldeployment.yaml").read_text())
    spec = md["spec"]
    spec["model"] = {"uri": p.SAMPLE_URI, "version": "1"}
    spec["serving"].update(
        resources={"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}},
        predictionLog={"storeSecretRef": {"name": p.STORE_SECRET, "key": "url"}})
    spec["rollout"] = {"steps": scale.steps, "analysis": scale.analysis}
    monitoring = spec["monitoring"]
    monitoring["window"] = scale.monitoring_window
    monitoring["interval"] = scale.monitoring_interval
    monitoring["drift"]["minSamples"] = scale.drift_min_samples
    monitoring.pop("kpis", None)
    spec["retraining"].update(
        triggers={"drift": True, "accuracy": True},  # both answered: no Warning to act on
        dataset={"uri": p.SAMPLE_DATASET_URI, "target": "quality"},
        cooldown="6h",
        job={"resources": {"requests": {"cpu": "500m", "memory": "512Mi"},
                           "limits": {"memory": "2Gi"}}})
    return dict(md)


def send_command(namespace: str, *, rows: int | None, seed: int, drift: float,
                 batch: int = 100, pause: float = 0.0, model: str = MODEL) -> list[str]:
    """`vigia sample send` to ``model``'s Service: ``rows`` rows, or until the stop file."""
    url = f"http://{r.service_name(model)}.{namespace}.svc.cluster.local:{r.SERVICE_PORT}"
    command = ["vigia", "sample", "send", url, "--seed", str(seed), "--drift", str(drift),
               "--batch", str(batch), "--pause", str(pause)]
    return command + (["--rows", str(rows)] if rows else ["--until-file", STOP_FILE])


def client_pod() -> dict[str, Any]:
    """The production line: a restricted pod of the project image that sends traffic."""
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": CLIENT, "labels": {"app.kubernetes.io/name": CLIENT}},
        "spec": {
            "terminationGracePeriodSeconds": 1,
            "automountServiceAccountToken": False,
            "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001,
                                "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{
                "name": "main", "image": references()["vigia"],
                "imagePullPolicy": "IfNotPresent",
                "command": ["sleep", "infinity"],
                "env": [{"name": "HOME", "value": "/tmp"}],
                "resources": {"requests": {"cpu": "100m", "memory": "128Mi"},
                              "limits": {"memory": "512Mi"}},
                "securityContext": {"allowPrivilegeEscalation": False,
                                    "readOnlyRootFilesystem": True,
                                    "capabilities": {"drop": ["ALL"]}},
                "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
            }],
            "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}],
        },
    }


def bundle_writer(name: str, code: str) -> dict[str, Any]:
    """A pod like the production line that runs ``code`` with the bundle claim at /bundles,
    once: a version written onto the claim as a user's pipeline would."""
    pod = client_pod()
    pod["metadata"] = {"name": name}
    pod["spec"]["restartPolicy"] = "Never"
    (container,) = pod["spec"]["containers"]
    container["command"] = ["python3", "-c", code]
    container["resources"]["limits"]["memory"] = "1Gi"
    container["volumeMounts"].append({"name": "bundles", "mountPath": "/bundles"})
    pod["spec"]["volumes"].append(
        {"name": "bundles", "persistentVolumeClaim": {"claimName": p.BUNDLES_CLAIM}})
    return pod


def run(kubeconfig: Path, namespace: str, scale: Scale, timeline: Timeline) -> Timeline:
    """The whole loop in ``namespace``; every step marked on ``timeline``."""
    p.install_with_helm(kubeconfig, tick_seconds=scale.tick_seconds)
    timeline.mark(Step.INSTALLED, f"Vigía installed (helm install, with the Prometheus "
                  f"Operator), tick {scale.tick_seconds:g} s", tickSeconds=scale.tick_seconds)
    loop = Loop(kubeconfig, p.restricted_namespace(kubeconfig, namespace), scale)
    _deploy(loop, timeline)
    _normal_day(loop, timeline)
    _drifted_day(loop, timeline)
    candidate = _retraining(loop, timeline)
    with Background(loop) as background:
        _canary(loop, timeline, candidate)
    _recovery(loop, timeline, candidate, background.result)
    return timeline


def _deploy(loop: Loop, timeline: Timeline) -> None:
    apply(loop.kubeconfig, model_deployment(loop.scale), namespace=loop.namespace)
    apply(loop.kubeconfig, client_pod(), namespace=loop.namespace)
    seconds = p.wait_model_ready(loop.kubeconfig, loop.namespace, MODEL)
    kubectl(loop.kubeconfig, "-n", loop.namespace, "wait", "--for=condition=Ready",
            f"pod/{CLIENT}", "--timeout=180s", timeout=200)
    # Prometheus counts a burst by the counters' increase between two scrapes: a day sent
    # before the server's first scrape (its counters at zero) would start the series at its
    # total and count as no traffic at all. The status says when monitoring has seen it.
    began = time.monotonic()
    loop.wait(lambda status: (status.get("monitoring") or {}).get("dataAsOf"),
              "the model server's metrics in Prometheus (status.monitoring.dataAsOf)")
    watched = time.monotonic() - began
    timeline.mark(Step.DEPLOYED, f"model {MODEL} version 1 serving ({seconds:.0f} s to Ready, "
                  f"watched by monitoring {watched:.0f} s later)", version="1",
                  readySeconds=round(seconds, 1), watchedSeconds=round(watched, 1))


def _normal_day(loop: Loop, timeline: Timeline) -> None:
    sent = loop.send(loop.scale.normal_rows, SEEDS["normal"], 0.0)
    timeline.mark(Step.NORMAL_DAY, _judged(sent), **sent)

    def evaluated(status: dict[str, Any]) -> dict[str, Any] | None:
        drifted = p.condition(status, "Drifted")
        samples = (status.get("monitoring") or {}).get("samples") or {}
        enough = samples.get("predictions", 0) >= loop.scale.drift_min_samples
        return drifted if drifted.get("status") == "False" and enough else None

    drifted = loop.wait(evaluated, "monitoring evaluated on the normal day")
    timeline.mark(Step.NO_DRIFT, f"{drifted['reason']}: {drifted['message']}",
                  reason=drifted["reason"], message=drifted["message"])


def _drifted_day(loop: Loop, timeline: Timeline) -> None:
    timeline.mark(Step.DRIFT_ONSET, "new flour supplier, humid weather: drifted traffic begins")
    sent = loop.send(loop.scale.drifted_rows, SEEDS["drifted"], DRIFT)
    timeline.mark(Step.DRIFTED_DAY, _judged(sent), **sent)

    def flagged(status: dict[str, Any]) -> dict[str, Any] | None:
        return status if p.condition(status, "Drifted").get("status") == "True" else None

    status = loop.wait(flagged, "Drifted=True")
    drift = (status.get("monitoring") or {}).get("drift") or {}
    features = list(drift.get("features") or [])
    scores = {f: round(float(drift["scores"][f]), 3) for f in features}
    timeline.mark(Step.DRIFT_DETECTED, p.condition(status, "Drifted")["message"],
                  features=features, scores=scores)


def _retraining(loop: Loop, timeline: Timeline) -> dict[str, Any]:
    def started(status: dict[str, Any]) -> dict[str, Any] | None:
        section = status.get("retraining") or {}
        return section if section.get("job") else None

    section = loop.wait(started, "a retraining Job")
    trigger = section.get("lastTrigger") or {}
    timeline.mark(Step.JOB_STARTED, f"Job {section['job']} ({trigger.get('reason')}: "
                  f"{trigger.get('message')})", job=section["job"],
                  trigger=trigger.get("reason"), jobs=_jobs(loop))

    def finished(status: dict[str, Any]) -> dict[str, Any] | None:
        section = status.get("retraining") or {}
        result = section.get("result") or {}
        return section if result.get("job") == section.get("job") else None

    section = loop.wait(finished, "the retraining Job's result")
    result, candidate = section["result"], dict(section.get("candidate") or {})
    if result["verdict"] != "Accepted":
        raise RuntimeError(f"the candidate was {result['verdict']}: {result['message']}")
    timeline.mark(Step.CANDIDATE, f"{result['verdict']}: version {candidate['version']}: "
                  f"{result['message'][:300]}", verdict=result["verdict"],
                  version=candidate["version"], message=result["message"],
                  metrics=result.get("metrics") or {},
                  report=candidate.get("htmlReportUri"), jobs=_jobs(loop))
    return candidate


def _jobs(loop: Loop) -> list[str]:
    selector = f"{r.LABEL_OWNER}={MODEL}"
    found = get(loop.kubeconfig, "-n", loop.namespace, "jobs", "-l", selector)
    return [str(job["metadata"]["name"]) for job in found["items"]]


def _canary(loop: Loop, timeline: Timeline, candidate: dict[str, Any]) -> None:
    version = candidate["version"]

    def canary_of(status: dict[str, Any]) -> dict[str, Any] | None:
        canary = status.get("canary") or {}
        return canary if canary.get("version") == version else None

    canary = loop.wait(canary_of, f"canary {version} started")
    timeline.mark(Step.CANARY_STARTED, f"version {version} at step {canary.get('step')}, "
                  f"weight {canary.get('weight')}%", step=canary.get("step"))
    seen_step = int(canary.get("step") or 0)

    promoting = False

    def next_event(status: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        canary = canary_of(status)
        if canary is not None:
            if canary.get("phase") == PROMOTING and not promoting:
                return "promoting", canary
            return ("step", canary) if int(canary.get("step") or 0) != seen_step else None
        if (status.get("stable") or {}).get("version") == version:
            return "promoted", status
        ended = [h for h in status.get("history") or [] if h.get("version") == version]
        return ("ended", ended[0]) if ended else None

    while True:
        what, found = loop.wait(next_event, f"canary {version}: next step or promotion")
        if what == "promoted":
            break
        if what == "ended":
            raise RuntimeError(f"the canary ended {found.get('outcome')}: "
                               f"{found.get('message')}")
        # The Event that ended the step says what it held and the analysis that passed it.
        said = (_said(loop, reasons.ROLLOUT_STEP, f"step {seen_step + 1} held")
                if what == "step" else _said(loop, reasons.PROMOTING))
        timeline.mark(Step.CANARY_STEP, said, step=seen_step + 1,
                      achievedWeight=found.get("achievedWeight"),
                      analysis=found.get("lastAnalysis"))
        promoting = promoting or what == "promoting"
        seen_step = int(found.get("step") or 0)
    promoted = _said(loop, reasons.PROMOTED)
    timeline.mark(Step.PROMOTED, f"version {version} is stable; {promoted}",
                  version=version, steps=len(timeline.all(Step.CANARY_STEP)))


def _events(loop: Loop, reason: str) -> list[dict[str, Any]]:
    found = get(loop.kubeconfig, "-n", loop.namespace, "events",
                "--field-selector", f"involvedObject.name={MODEL},reason={reason}")
    return sorted(found["items"], key=lambda e: e.get("lastTimestamp") or "")


def _said(loop: Loop, reason: str, containing: str = "") -> str:
    """The newest message of the model's Events of ``reason`` that contains ``containing``,
    awaited a little: a decision's Events follow the status that records it."""
    def found() -> list[dict[str, Any]]:
        return [e for e in _events(loop, reason) if containing in str(e.get("message"))]

    try:
        said = p.until(found, EVENT_WAIT_S, f"a {reason} Event", interval=0.5)
    except TimeoutError:
        return f"(no {reason} Event found)"
    return str(said[-1]["message"])


def _recovery(loop: Loop, timeline: Timeline, candidate: dict[str, Any],
              during_canary: dict[str, Any]) -> None:
    sent = loop.send(loop.scale.evaluation_rows, SEEDS["evaluation"], DRIFT)
    report = candidate.get("htmlReportUri")
    on_disk = p.host_path(loop.kubeconfig, loop.namespace, report) if report else None
    timeline.mark(Step.RECOVERED, f"{_judged(sent)}; during the canary: "
                  f"{_by_version(during_canary)}", **sent, duringCanary=during_canary,
                  report=report, reportPath=None if on_disk is None else str(on_disk),
                  jobs=_jobs(loop))
    _judged_on_its_own(loop, timeline, candidate["version"])


def _judged_on_its_own(loop: Loop, timeline: Timeline, version: str) -> None:
    """The loop ends when monitoring judges the promoted version on its own predictions
    (their counters reach Prometheus a scrape and a rule evaluation after they were sent)."""
    def judged(status: dict[str, Any]) -> dict[str, Any] | None:
        monitoring = status.get("monitoring") or {}
        own = (monitoring.get("samples") or {}).get("predictions", 0)
        return status if monitoring.get("version") == version and own > 0 else None

    status = loop.wait(judged, f"monitoring of version {version} on its own predictions")
    monitoring = status["monitoring"]
    conditions = {c["type"]: c for c in status.get("conditions") or []}
    timeline.mark(Step.JUDGED, f"state {monitoring.get('state')} on "
                  f"{monitoring['samples']['predictions']:,} predictions of version {version}",
                  version=version, monitoring=monitoring, conditions=conditions)


def _judged(sent: dict[str, Any]) -> str:
    rows, accuracy = sent["rows"], sent["accuracy"] or 0.0
    wrong = rows - round(accuracy * rows)
    return (f"{rows:,} sobaos, {wrong:,} misjudged: accuracy {accuracy:.1%} "
            f"({_by_version(sent)})")


def _by_version(sent: dict[str, Any]) -> str:
    scores = ", ".join(f"version {v}: {s['accuracy']:.1%} of {s['rows']:,}"
                       for v, s in (sent.get("byVersion") or {}).items()) or "nothing sent"
    failed = f"; {sent['errors']} requests failed ({sent['lastError']})" if sent["errors"] else ""
    return scores + failed


class Background:
    """Drifted traffic that keeps coming (with its labels) while the canary is judged."""

    def __init__(self, loop: Loop) -> None:
        self.loop = loop
        self.result: dict[str, Any] = {}
        self._process: subprocess.Popen[str] | None = None

    def __enter__(self) -> Background:
        loop = self.loop
        command = send_command(loop.namespace, rows=None, seed=SEEDS["canary"], drift=DRIFT,
                               batch=loop.scale.canary_batch, pause=loop.scale.canary_pause)
        kubectl(loop.kubeconfig, "-n", loop.namespace, "exec", CLIENT, "--",
                "rm", "-f", STOP_FILE)
        self._process = subprocess.Popen(
            [str(kubectl_path()), f"--kubeconfig={loop.kubeconfig}", "-n", loop.namespace,
             "exec", CLIENT, "--", *command],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        return self

    def __exit__(self, *_: object) -> None:
        loop, process = self.loop, self._process
        assert process is not None
        kubectl(loop.kubeconfig, "-n", loop.namespace, "exec", CLIENT, "--",
                "touch", STOP_FILE)
        try:
            out, err = process.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            process.kill()
            out, err = process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"the traffic during the canary failed: {err.strip()[-2000:]}")
        self.result = dict(json.loads(out.strip().splitlines()[-1]))
