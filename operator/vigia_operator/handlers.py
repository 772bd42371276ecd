"""kopf wiring, and nothing else: every event goes to the engine's one reconcile path.

- Indexes (one per kind of ``resources.CHILD_KINDS`` plus the ModelDeployments) keep what
  the engine reads, filtered server-side by the operator's label.
- A ModelDeployment's events (and the initial listing at start) and its children's
  events trigger ``Engine.reconcile`` of that ModelDeployment.
- The startup handler builds the engine and starts the tick (and the Lease election). A
  child kind the cluster may lack (HTTPRoute, when the Gateway API CRDs are not installed)
  is watched only if served at start; if not, one log line says so and the engine refuses
  what needs it.
No finalizers, timers or progress annotations: deleting a ModelDeployment never waits
for the operator, and the operator writes nothing on the object but its status.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

import kopf

from vigia_operator.core import reasons
from vigia_operator.core import resources as r
from vigia_operator.core.config import OperatorSettings
from vigia_operator.core.types import ModelRef
from vigia_operator.engine.leader import LeaseElection, Standalone
from vigia_operator.engine.observed import compact, seen
from vigia_operator.engine.reconcile import Engine
from vigia_operator.engine.shards import ShardElection
from vigia_operator.engine.store import IndexStore
from vigia_operator.engine.tick import Tick, supervise
from vigia_operator.kube.client import DiscoveryAPI, Kube, KubeError
from vigia_operator.kube.events import EventRecorder
from vigia_operator.prometheus.exporter import serve_metrics
from vigia_operator.prometheus.providers import provider_for
from vigia_operator.status.writer import StatusWriter

OWNED = {r.LABEL_MANAGED_BY: r.MANAGED_BY}
TASKS = "tasks"
ELECTION = "election"
RELEASE_SECONDS = 5.0  # a graceful stop's hand-over of the shards
# kopf's logger and line for handlers of resources its scan did not find (kopf 1.45).
KOPF_OBSERVATION = "kopf._core.reactor.observation"
KOPF_UNRESOLVED = "Unresolved resources cannot be served"

logger = logging.getLogger(__name__)


def login() -> kopf.ConnectionInfo | None:
    """Credentials without the official client: the service account, else $KUBECONFIG."""
    settings = kopf.OperatorSettings()
    return (kopf.login_with_service_account(settings=settings)
            or kopf.login_with_kubeconfig(settings=settings))


@kopf.on.login()
def log_in(**_: Any) -> kopf.ConnectionInfo | None:
    return login()


# The start asks the API server's discovery (unserved_kinds): when it is not reachable yet,
# the start is retried after 5 s rather than kopf's default minute.
@kopf.on.startup(backoff=5)
async def start(settings: kopf.OperatorSettings, memo: kopf.Memo, **kwargs: Any) -> None:
    config: OperatorSettings = memo["config"]
    settings.scanning.disabled = True  # the CRD is installed first: no cluster-wide CRD access
    settings.posting.enabled = False  # kopf's own log-Events: ours are the catalogue's
    for kind in r.CHILD_KINDS:
        key = (kind.group, kind.version, kind.plural) if kind.group else (
            kind.version, kind.plural)
        settings.watching.label_selectors[key] = r.OWNED_SELECTOR
    kube = Kube(login, pool_size=config.concurrency)
    try:
        unserved = await unserved_kinds(kube)
    except BaseException:
        await kube.close()  # retried with a new client
        raise
    recorder = EventRecorder(kube, config.identity)
    metrics = serve_metrics(config.metrics_port)
    engine = Engine(kube=kube, settings=config, store=IndexStore(kwargs),
                    writer=StatusWriter(kube, recorder), post=recorder, leader=Standalone(),
                    metrics=metrics, unserved=unserved)
    tick = Tick(engine, provider_for(config, metrics), config.tick_seconds)
    tasks = [asyncio.create_task(supervise("The tick", tick.run), name="vigia-tick")]
    tasks += [asyncio.create_task(engine.work(), name=f"vigia-worker-{n}")
              for n in range(config.concurrency)]
    election = elect(config, kube, on_elected=tick.once)
    if election is not None:
        engine.leader = election
        tasks.append(asyncio.create_task(election.run(), name="vigia-lease"))
    memo["engine"], memo["kube"], memo["tick"], memo[TASKS] = engine, kube, tick, tasks
    memo[ELECTION] = election


def elect(config: OperatorSettings, kube: Kube,
          on_elected: Callable[[], Awaitable[object]]) -> LeaseElection | ShardElection | None:
    """Who decides which replica acts: shards, one leader, or (None) this one alone."""
    if config.shards > 1:
        return ShardElection(kube, config.lease_namespace, config.shards, config.identity,
                             on_acquired=on_elected)
    if config.leader_election:
        return LeaseElection(kube, config.lease_namespace, on_elected, config.identity)
    return None


async def unserved_kinds(kube: DiscoveryAPI) -> frozenset[r.ChildKind]:
    """The child kinds a cluster may lack (their CRDs not installed) that it does not serve.

    kopf watches only what its scan at start finds served: it logs a line for each missing
    kind and never looks again (CRD scanning is off). The operator says once what that means
    instead, and refuses the ModelDeployments that would need such a kind."""
    unserved = frozenset({kind for kind in r.CHILD_KINDS
                          if kind.installed_by and not await kube.serves(kind)})
    for kind in sorted(unserved, key=lambda k: k.kind):
        logger.info(
            f"{kind.kind}s are not watched: the cluster does not serve {kind.resource} "
            f"({kind.installed_by} are not installed). ModelDeployments that need them are "
            f"refused ({reasons.API_NOT_SERVED}) until they are installed and the operator "
            "restarted; the others are not affected.")
    if unserved:
        logging.getLogger(KOPF_OBSERVATION).addFilter(SaidAlready(unserved))
    return unserved


class SaidAlready(logging.Filter):
    """Drops kopf's line about unresolved resources when it names only kinds the operator
    has reported itself (if kopf rewords it, both lines are logged: harmless)."""

    def __init__(self, kinds: frozenset[r.ChildKind]) -> None:
        super().__init__()
        self._plurals = {kind.plural for kind in kinds}

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if not text.startswith(KOPF_UNRESOLVED):
            return True
        named = set(re.findall(r"plural='([^']*)'", text))
        return not named or not named <= self._plurals


@kopf.on.cleanup()
async def stop(memo: kopf.Memo, **_: Any) -> None:
    for task in memo.get(TASKS) or []:
        task.cancel()
    election = memo.get(ELECTION)
    if isinstance(election, ShardElection):
        await release(election)
    kube = memo.get("kube")
    if isinstance(kube, Kube):
        await kube.close()


async def release(election: ShardElection) -> None:
    """Hand the shards over at a graceful stop (best effort: else they expire)."""
    try:
        await asyncio.wait_for(election.stop(), RELEASE_SECONDS)
    except (TimeoutError, KubeError) as error:
        logger.warning(f"Shards not released ({error!r}); they expire instead.")


@kopf.on.probe(id="apiCalls")
def api_calls(memo: kopf.Memo, **_: Any) -> int:
    """The operator's own API requests so far (the benchmark reads them from /healthz)."""
    kube = memo.get("kube")
    return kube.calls if isinstance(kube, Kube) else 0


class TickStalled(kopf.PermanentError):
    """No tick completed for too long. Permanent: kopf does not retry the probe, the
    liveness endpoint answers 500 at once."""


@kopf.on.probe(id="tick")
def tick_alive(memo: kopf.Memo, **_: Any) -> float | None:
    """Seconds since the last completed tick; raises (liveness fails, the kubelet restarts
    the operator) when the supervised tick has not completed for too long."""
    tick = memo.get("tick")
    if not isinstance(tick, Tick):
        return None  # not started yet
    if not tick.alive():
        raise TickStalled(f"no tick completed for {tick.stalled_for():.0f}s")
    return round(tick.stalled_for(), 1)


@kopf.on.probe(id="apiCallsBy")
def api_calls_by(memo: kopf.Memo, **_: Any) -> dict[str, int]:
    kube = memo.get("kube")
    return dict(kube.calls_by) if isinstance(kube, Kube) else {}


@kopf.index(r.GROUP, r.VERSION, r.PLURAL, id=r.MODELS_INDEX)
def models_index(*, namespace: str | None, name: str, body: kopf.Body,
                 **_: Any) -> dict[Any, Any]:
    return {(namespace, name): compact(body)}


def _index_child(*, namespace: str | None, labels: kopf.Labels, body: kopf.Body,
                 **_: Any) -> dict[Any, Any]:
    owner = labels.get(r.LABEL_OWNER)
    return {} if owner is None else {(namespace, owner): seen(body)}


async def _on_child_event(*, namespace: str | None, labels: kopf.Labels, memo: kopf.Memo,
                          **_: Any) -> None:
    owner = labels.get(r.LABEL_OWNER)
    engine = memo.get("engine")
    if owner is not None and namespace is not None and isinstance(engine, Engine):
        engine.enqueue(ModelRef(namespace, owner), "child")


for _kind in r.CHILD_KINDS:
    kopf.index(group=_kind.group, version=_kind.version, plural=_kind.plural, labels=OWNED,
               id=_kind.index)(_index_child)
    kopf.on.event(group=_kind.group, version=_kind.version, plural=_kind.plural,
                  labels=OWNED, id=f"{_kind.plural}_event")(_on_child_event)


@kopf.on.event(r.GROUP, r.VERSION, r.PLURAL, id="model_event")
async def on_model_event(type: str | None, namespace: str | None, name: str, body: kopf.Body,
                         memo: kopf.Memo, **_: Any) -> None:
    engine = memo.get("engine")
    if not isinstance(engine, Engine) or namespace is None:
        return
    ref = ModelRef(namespace, name)
    if type == "DELETED":
        engine.forget(ref, str(body.meta.get("uid")))
    else:
        engine.enqueue(ref, "start" if type is None else "event")


logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
