"""The one reconcile path: every trigger (the ModelDeployment's events, its children's
events, the periodic tick, the operator's start) calls ``Engine.reconcile``.

    observe (status, children, signals and the clock, read once)
    -> decide the children (pure: rollout step, desired objects, plan)
    -> apply what differs
    -> decide the status (pure: every section, retraining included, and its Events)
    -> act (create a retraining Job, clear a consumed command)
    -> write the status once
    -> post the decisions' Events (after the status that records them: whoever reads an
       Event reads a status that already says it)

The status is decided from the children as the applies left them, so both decisions are
pure functions of the observation (``engine.decide``).

Observed objects come from the store (kopf's indexes), so a reconcile without drift makes
no API call; the spec is parsed once per generation (``engine.specs``), and a reconcile
whose inputs equal those of an earlier one that did nothing returns after observing, without
deciding again (``engine.unchanged``). A per-object lock serialises triggers of one object;
a semaphore bounds how many objects are reconciled at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from vigia_operator.core import reasons
from vigia_operator.core import resources as r
from vigia_operator.core.clock import utcnow
from vigia_operator.core.config import OperatorSettings
from vigia_operator.core.objects import ChildKey, contains, differences
from vigia_operator.core.types import Condition, Event, ModelRef, Obj, Signals
from vigia_operator.decide.plan import Action, Conflict, conflict_with, controlled_by
from vigia_operator.engine.decide import (
    ChildrenDecision,
    Observation,
    StatusDecision,
    decide_children,
    decide_status,
    jobs_of,
)
from vigia_operator.engine.leader import Leadership
from vigia_operator.engine.observed import Seen, seen
from vigia_operator.engine.secrets import SecretCheck
from vigia_operator.engine.specs import SpecCache
from vigia_operator.engine.store import Store
from vigia_operator.engine.unchanged import Unchanged, inputs_of, quiet_until
from vigia_operator.kube.client import KubeAPI, KubeError
from vigia_operator.prometheus.exporter import OperatorMetrics
from vigia_operator.status.retraining import finished_job_awaiting_result
from vigia_operator.status.sections import SectionUpdate, StatusUpdate
from vigia_operator.status.serving import refusal
from vigia_operator.status.writer import StatusWriter
from vigia_operator.view import ModelDeploymentView, SpecError
from vigia_operator.view.policy import Refusal, check_spec
from vigia_operator.view.rollout import COMMAND_ANNOTATION

MAX_BACKOFF_SECONDS: Final = 60.0
_API_VERSIONS: Final = {kind.kind: kind.api_version for kind in r.CHILD_KINDS}
# How long an apply's result stands in for a watch event that has not arrived.
APPLIED_MEMORY_SECONDS: Final = 30.0
JOB_NAME_LABEL: Final = "batch.kubernetes.io/job-name"  # on a Job's pods, by its controller

logger = logging.getLogger(__name__)


@dataclass
class ReconcileReport:
    """What one reconcile did (logged, counted by tests and the benchmark)."""

    applied: list[ChildKey] = field(default_factory=list)
    refused: str | None = None  # the reason, when the spec was not acted on
    status_written: bool = False
    skipped: bool = False  # not this replica's to act on, or the object is gone
    unchanged: bool = False  # the inputs of an earlier reconcile that did nothing


class ConflictFound(Exception):
    def __init__(self, conflict: Conflict) -> None:
        super().__init__(conflict.message)
        self.conflict = conflict


def backoff(retry: int) -> float:
    return float(min(MAX_BACKOFF_SECONDS, 2**retry))


class Engine:
    def __init__(self, *, kube: KubeAPI, settings: OperatorSettings, store: Store,
                 writer: StatusWriter, post: Any, leader: Leadership,
                 metrics: OperatorMetrics | None = None,
                 unserved: frozenset[r.ChildKind] = frozenset()) -> None:
        self.kube = kube
        self.unserved = unserved  # child kinds not served (not watched): refused
        self.metrics = metrics
        self.settings = settings
        self.store = store
        self.writer = writer
        self.leader = leader
        self._post = post
        self._secrets = SecretCheck(kube, settings)
        self.specs = SpecCache()
        self._unchanged = Unchanged()
        self._locks: dict[ModelRef, asyncio.Lock] = {}
        self._slots = asyncio.Semaphore(settings.concurrency)
        # Our applies the watch has not delivered yet: (namespace, kind, name) ->
        # (resourceVersion the index had then, what the apply returned, when).
        self._applied: dict[tuple[str, str, str], tuple[str | None, Seen, float]] = {}
        self._retries: dict[ModelRef, int] = {}
        self._pending: dict[ModelRef, asyncio.TimerHandle] = {}
        self._queue: asyncio.PriorityQueue[tuple[int, int, ModelRef, str]] = (
            asyncio.PriorityQueue())
        self._sequence = 0
        self._queued: set[ModelRef] = set()

    async def reconcile(self, ref: ModelRef, *, trigger: str,
                        signals: Signals | None = None) -> ReconcileReport:
        if not self.leader.acts_for(ref):
            return ReconcileReport(skipped=True)
        lock = self._locks.setdefault(ref, asyncio.Lock())
        async with lock, self._slots:
            body = self.store.model(ref)
            if body is None or (body.get("metadata") or {}).get("deletionTimestamp"):
                return ReconcileReport(skipped=True)
            budget = self.settings.reconcile_budget_seconds
            try:
                outcome = await asyncio.wait_for(
                    self._reconcile(body, signals, tick=trigger == "tick"), budget)
            except KubeError as error:
                self._failed(ref, trigger, error)
                return ReconcileReport()
            except TimeoutError:
                self._retry_later(ref, trigger, f"over its budget of {budget:g}s")
                return await self._report_failure(body, reasons.OVER_BUDGET, (
                    f"the reconcile took longer than its budget of {budget:g}s "
                    "(VIGIA_OPERATOR_RECONCILE_BUDGET_SECONDS) and is retried; the other "
                    "ModelDeployments went on"))
            except Exception as error:  # one object's failure is its condition, never the tick's
                logger.exception(f"Reconcile of {ref} ({trigger}) failed")
                self._retry_later(ref, trigger, repr(error))
                return await self._report_failure(body, reasons.RECONCILE_FAILED, (
                    f"the reconcile failed ({type(error).__name__}: {error}) and is retried; "
                    "the other ModelDeployments are not affected"))
        self._retries.pop(ref, None)
        if outcome.applied or outcome.refused:
            logger.info(f"Reconciled {ref} ({trigger}): applied {len(outcome.applied)}, "
                        f"refused {outcome.refused or 'nothing'}.")
        return outcome

    def enqueue(self, ref: ModelRef, trigger: str) -> None:
        """Ask for a reconcile of ``ref`` without waiting for it (watch events): a ref
        already queued is not queued twice, so a burst of child events is one reconcile,
        and kopf's handler returns at once instead of holding the event's body."""
        if ref in self._queued:
            return
        self._queued.add(ref)
        # A ModelDeployment's own change goes before its children's progress reports.
        priority = 1 if trigger == "child" else 0
        self._sequence += 1
        self._queue.put_nowait((priority, self._sequence, ref, trigger))

    async def work(self) -> None:
        """One of the workers that drain the queue (``settings.concurrency`` of them)."""
        while True:
            _priority, _sequence, ref, trigger = await self._queue.get()
            self._queued.discard(ref)
            try:
                await self.reconcile(ref, trigger=trigger)
            except Exception:  # a bug must not stop the worker; the next event retries
                logger.exception(f"Reconcile of {ref} ({trigger}) crashed")

    def forget(self, ref: ModelRef, uid: str) -> None:
        """The object is gone: drop what the engine remembers of it."""
        self._locks.pop(ref, None)
        self._retries.pop(ref, None)
        pending = self._pending.pop(ref, None)
        if pending is not None:
            pending.cancel()
        self.writer.forget(uid)
        self.specs.forget(uid)
        self._unchanged.forget(uid)
        for key in [k for k in self._applied if k[0] == ref.namespace]:
            if self._applied[key][1].owner == ref.name:
                del self._applied[key]

    def _failed(self, ref: ModelRef, trigger: str, error: KubeError) -> None:
        if error.namespace_terminating:
            return
        self._retry_later(ref, trigger, str(error))

    def _retry_later(self, ref: ModelRef, trigger: str, why: str) -> None:
        retry = self._retries.get(ref, 0)
        self._retries[ref] = retry + 1
        delay = backoff(retry)
        logger.warning(f"Reconcile of {ref} ({trigger}) failed, retrying in {delay:.0f}s: "
                       f"{why}")
        previous = self._pending.pop(ref, None)
        if previous is not None:
            previous.cancel()
        loop = asyncio.get_running_loop()
        self._pending[ref] = loop.call_later(delay, self._retry, ref)

    def _retry(self, ref: ModelRef) -> None:
        self._pending.pop(ref, None)
        self.enqueue(ref, "retry")

    async def _reconcile(self, body: Obj, signals: Signals | None, *,
                         tick: bool) -> ReconcileReport:
        """Observe once, decide (pure), act, write the status once."""
        seen = await self._observe(body, signals, tick=tick)
        if isinstance(seen, Refusal):
            return await self._refuse(body, seen)
        inputs = inputs_of(seen)
        if self._unchanged.same(seen.md.uid, inputs, seen.now):
            return ReconcileReport(unchanged=True)
        children = (self._unchanged.children(seen.md.uid, inputs, seen.now)
                    or decide_children(seen, self.settings))
        if isinstance(children, Refusal):
            return await self._refuse(body, children)
        for note in children.notes:
            logger.warning(note)
        report = ReconcileReport()
        applied = await self._apply_plan(seen, children, report)
        if isinstance(applied, Refusal):
            return await self._refuse(body, applied)
        decided = decide_status(seen, children, applied, self.settings)
        body = await self._act(seen, decided)
        report.status_written = await self.writer.write(body, decided.update, now=seen.now)
        for event in decided.events:
            await self._post(body, event)
        quiet = did_nothing(report, decided) and not self.writer.refused(seen.md.uid)
        self._unchanged.remember(seen.md.uid, inputs, quiet_until(seen) if quiet else None,
                                 children)
        return report

    async def _observe(self, body: Obj, signals: Signals | None, *,
                       tick: bool) -> Observation | Refusal:
        """What the reconcile decides on, read once. API reads: a referenced Secret's
        metadata (remembered a while when allowed), and the pods of a retraining Job that
        has finished and whose result is not in status yet."""
        try:
            spec = self.specs.spec(body)
        except SpecError as error:
            return Refusal(reasons.INVALID_SPEC, str(error))
        md, retraining = spec.md, spec.retraining
        refused = (check_spec(md, retraining, self.settings)
                   or await self._secrets.check(md))
        if refused is not None:
            return refused
        status = self.writer.current(body)
        children = self._observed(ModelRef.of(md))
        job = finished_job_awaiting_result(status, jobs_of(children))
        pods = {} if job is None else {job: [p async for p in self.kube.list(
            "v1", "Pod", md.namespace, label_selector=f"{JOB_NAME_LABEL}={job}")]}
        return Observation(body=body, md=md, retraining=retraining, status=status,
                           children=children, signals=signals, now=utcnow(), tick=tick,
                           job_pods=pods, unserved=self.unserved)

    async def _apply_plan(self, seen: Observation, children: ChildrenDecision,
                          report: ReconcileReport) -> dict[ChildKey, Seen] | Refusal:
        """Apply the plan, wave by wave; the children as the applies left them."""
        md, actions = children.target, children.plan.actions
        observed = dict(seen.children)
        events: list[Event] = []
        try:
            await self._check_free(md, [a for a in actions if a.missing])
            for wave in waves(actions):
                results = await asyncio.gather(
                    *(self._apply(md, a, observed.get(a.key)) for a in wave))
                for action, result in zip(wave, results, strict=True):
                    before = observed.get(action.key)
                    events.extend(announce(
                        action, None if before is None else before.body,
                        children.spec_changed, rolling=children.rolling,
                        introduced=action.key in children.introduced))
                    observed[action.key] = result
                    report.applied.append(action.key)
            for key, uid in children.plan.deletions:
                events.append(await self._delete(md, key, uid))
                observed.pop(key, None)
        except ConflictFound as found:
            return _conflict_refusal(found.conflict)
        except KubeError as error:
            if error.status in (400, 422):  # the API refuses the object: no retry heals it
                return Refusal(reasons.APPLY_REFUSED, f"{error.message}"[:1000])
            raise
        finally:
            for event in merge_events(events):
                await self._post(seen.body, event)
        return observed

    async def _act(self, seen: Observation, decided: StatusDecision) -> Obj:
        """Carry out the decisions but their Events; the body the status is then written
        against."""
        body, md = seen.body, seen.md
        if decided.job is not None:
            await self._create_job(decided.job)
        if decided.clear_command:
            cleared = await self.kube.remove_annotation(r.API_VERSION, r.KIND, md.namespace,
                                                        md.name, COMMAND_ANNOTATION)
            body = at_version(body, cleared)
        if self.metrics is not None and decided.verdict is not None:
            self.metrics.publish((md.namespace, md.name), decided.verdict)
        return body

    async def _create_job(self, job: Mapping[str, Any]) -> None:
        try:
            await self.kube.create(job)
        except KubeError as error:
            if not error.already_exists:  # the same trigger's Job: created before
                raise
            logger.info(f"Job {job['metadata']['name']} exists already; not created twice.")

    def _observed(self, ref: ModelRef) -> dict[ChildKey, Seen]:
        """The store's children, with our own applies the watch has not delivered yet."""
        found = self.store.children(ref)
        oldest = time.monotonic() - APPLIED_MEMORY_SECONDS
        for key, (version_before, result, at) in list(self._applied.items()):
            namespace, kind, name = key
            if namespace != ref.namespace or result.owner != ref.name:
                continue
            current = found.get((kind, name))
            current_version = None if current is None else current.resource_version
            # Not delivered yet, unless it is long overdue (then it was deleted since).
            if current_version == version_before and at > oldest:
                found[(kind, name)] = result
            else:
                del self._applied[key]
        return found

    async def _apply(self, md: ModelDeploymentView, action: Action,
                     before: Seen | None) -> Seen:
        desired = action.desired
        result = seen(await self.kube.apply(desired))
        version = None if before is None else before.resource_version
        self._applied[(md.namespace, desired["kind"], desired["metadata"]["name"])] = (
            version, result, time.monotonic())
        return result

    async def _delete(self, md: ModelDeploymentView, key: ChildKey, uid: str) -> Event:
        """Delete a child the spec no longer asks for (``plan.deletions``)."""
        kind, name = key
        await self.kube.delete(_API_VERSIONS[kind], kind, md.namespace, name, uid)
        self._applied.pop((md.namespace, kind, name), None)
        return Event(reasons.NORMAL, reasons.REMOVED,
                     f"{kind} {name} deleted: the spec no longer asks for it.")

    async def _check_free(self, md: ModelDeploymentView, missing: list[Action]) -> None:
        """Children missing from the index may still exist without our labels: someone
        else's object (never touched) or ours with its labels removed (restored). Looked
        up all at once (metadata only), before anything is applied."""
        found = await asyncio.gather(*(self._existing(a.desired) for a in missing))
        for action, existing in zip(missing, found, strict=True):
            if existing is not None and not controlled_by(existing, md.uid):
                raise ConflictFound(conflict_with({**existing, "kind": action.key[0]}))

    async def _existing(self, desired: Mapping[str, Any]) -> Obj | None:
        meta = desired["metadata"]
        try:
            return await self.kube.get(desired["apiVersion"], desired["kind"],
                                       meta["namespace"], meta["name"], metadata_only=True)
        except KubeError as error:
            if error.not_found:
                return None
            raise

    async def _report_failure(self, body: Obj, reason: str, message: str) -> ReconcileReport:
        """Degraded on this object, with the reason and why (the writer's Event says it
        once). Written under its own budget: the API may be what is slow."""
        failed = StatusUpdate((SectionUpdate("serving", None, (
            Condition(reasons.DEGRADED, "True", reason, message[:1000]),)),))
        try:
            written = await asyncio.wait_for(self.writer.write(body, failed),
                                             self.settings.reconcile_budget_seconds)
        except Exception as error:  # reporting must not fail the caller either
            logger.warning(f"Could not report {reason} on {_name(body)}: {error!r}")
            written = False
        return ReconcileReport(refused=reason, status_written=written)

    async def _refuse(self, body: Obj, refused: Refusal) -> ReconcileReport:
        generation = int((body.get("metadata") or {}).get("generation") or 0)
        written = await self.writer.write(body, refusal(generation, refused.reason,
                                                        refused.message))
        if written:
            logger.warning(f"Not acting on {_name(body)}: {refused.message}")
        return ReconcileReport(refused=refused.reason, status_written=written)


def did_nothing(report: ReconcileReport, decided: StatusDecision) -> bool:
    """No apply, no status write, no Event, no Job, no command cleared."""
    return not (report.applied or report.status_written or decided.events
                or decided.job is not None or decided.clear_command)


def announce(action: Action, before: Obj | None, spec_changed: bool, *,
             rolling: bool = False, introduced: bool = False) -> list[Event]:
    """The Events of one apply: a new model on a Deployment, a restore (the spec did not
    change, the child did), or a created or updated child. ``rolling``: a rollout is in
    flight; what it moves (the Deployments' replicas, the route's weights) is announced by
    its own Events.
    ``introduced``: the child is new because a decision asked for it (the canary Deployment
    of a rollout that starts), so its absence was not someone's deletion."""
    kind, name = action.key
    if kind == "Deployment" and before is not None:
        old_uri = model_uri(before)
        new_uri = model_uri(action.desired)  # a track serves the rollout's version
        if old_uri is not None and old_uri != new_uri:
            return [Event(reasons.NORMAL, reasons.MODEL_CHANGED,
                          f"Model changed from {old_uri} to {new_uri} on Deployment {name}.")]
    if rolling and before is not None and contains(without_traffic(before),
                                                   without_traffic(action.desired)):
        return []
    if not spec_changed and not (introduced and before is None):
        if before is None:
            message = f"{kind} {name} was deleted; re-created it."
        else:
            fields = differences(before, action.desired)
            shown = ", ".join(fields[:5]) + (", ..." if len(fields) > 5 else "")
            message = f"{kind} {name} was changed ({shown}); restored it."
        return [Event(reasons.WARNING, reasons.RESTORED, message)]
    reason = reasons.CREATED if before is None else reasons.UPDATED
    return [Event(reasons.NORMAL, reason, f"{kind} {name}")]


def without_traffic(obj: Mapping[str, Any]) -> Obj:
    """A copy of a child without the fields a rollout moves: a Deployment's replicas, an
    HTTPRoute's backend weights."""
    out: Obj = json.loads(json.dumps(obj))
    spec = out.get("spec") or {}
    if out.get("kind") == "Deployment":
        spec.pop("replicas", None)
    if out.get("kind") == r.HTTPROUTE.kind:
        for rule in spec.get("rules") or []:
            for backend in rule.get("backendRefs") or []:
                backend.pop("weight", None)
    return out


def at_version(body: Obj, patched: Mapping[str, Any]) -> Obj:
    """``body`` as of our own patch of its metadata (same status, newer resourceVersion).

    The status written next is remembered against that version: the next reconcile, which
    may read the object between the two writes (annotation gone, status not yet written),
    then decides on the status written and not on the one it replaced (a consumed
    ``promote`` was otherwise lost: the stale status said Progressing, the command was gone).
    """
    version = (patched.get("metadata") or {}).get("resourceVersion")
    if not version:
        return body
    return {**body, "metadata": {**(body.get("metadata") or {}), "resourceVersion": version}}


def model_uri(deployment: Mapping[str, Any]) -> str | None:
    annotations = (deployment.get("metadata") or {}).get("annotations") or {}
    uri = annotations.get(r.ANNOTATION_MODEL_URI)
    return None if uri is None else str(uri)


def waves(actions: Sequence[Action]) -> list[list[Action]]:
    """The actions grouped by their kind's wave, in order: one wave is applied at once."""
    grouped: dict[int, list[Action]] = {}
    for action in actions:
        grouped.setdefault(r.WAVES.get(action.key[0], 0), []).append(action)
    return [grouped[wave] for wave in sorted(grouped)]


def merge_events(events: list[Event]) -> list[Event]:
    """One Created and one Updated Event per reconcile, listing the children."""
    merged: list[Event] = []
    for reason in (reasons.CREATED, reasons.UPDATED):
        names = [e.message for e in events if e.reason == reason]
        if names:
            merged.append(Event(reasons.NORMAL, reason, f"{reason} {', '.join(names)}."))
    return merged + [e for e in events if e.reason not in (reasons.CREATED, reasons.UPDATED)]


def _conflict_refusal(conflict: Conflict) -> Refusal:
    return Refusal(reasons.OBJECT_CONFLICT, conflict.message)


def _name(body: Mapping[str, Any]) -> str:
    meta = body.get("metadata") or {}
    return f"{meta.get('namespace')}/{meta.get('name')}"
