"""Engine benchmark: the cost of reconciling ModelDeployments that did not change.

    python3 benchmarks/engine_idle.py [--models 1000] [--ticks 3] [--profile]

In process, no cluster: N ModelDeployments (the sample, as the API server defaults it,
spread over 10 namespaces) in an in-memory API and a store that holds them as the
operator's indexes do (compact JSON, parsed on each read). They are reconciled until
converged (children applied, statuses written, the watches caught up); then it times:

- idle ticks: every model reconciled through ``Tick.once`` with the signals a Prometheus
  provider hands a model without a canary (canary values, none measured);
- idle ticks with monitoring: every model due, with the same monitoring signals each tick
  (10 features, stable track) but a new collection time, as on a real tick;
- the CPU time (``time.process_time``) of each model's idle reconcile, one at a time
  (p50/p95/max);
- the API calls made by the idle ticks.

The collection itself (Prometheus's queries, 1-5 s at 1,000 models: docs/monitoring.md)
is not in these figures. ``--profile`` prints a cProfile of one idle tick of each kind.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import cProfile
import json
import os
import pstats
import statistics
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools" / "testbed"))
sys.path.insert(0, str(ROOT))  # the unit tests' in-memory API and the CRD's defaulting
__import__("vigia_testbed.checkout").checkout.use_this_checkout()

from vigia_operator.core import resources as r  # noqa: E402
from vigia_operator.core.config import OperatorSettings  # noqa: E402
from vigia_operator.core.objects import ChildKey, key_of  # noqa: E402
from vigia_operator.core.types import (  # noqa: E402
    CANARY,
    MONITORING,
    MONITORING_AT,
    ModelRef,
    Signals,
)
from vigia_operator.decide.measurements import ModelSignals, TrackSignals  # noqa: E402
from vigia_operator.engine.leader import Standalone  # noqa: E402
from vigia_operator.engine.observed import Seen, seen  # noqa: E402
from vigia_operator.engine.reconcile import Engine  # noqa: E402
from vigia_operator.engine.tick import Tick  # noqa: E402
from vigia_operator.kube.events import EventRecorder  # noqa: E402
from vigia_operator.status.writer import StatusWriter  # noqa: E402
from vigia_operator.view import ModelDeploymentView, parse  # noqa: E402

from tests.unit.operator.engine.fakes import FakeKube  # noqa: E402
from tests.unit.operator.schema import defaulted_sample  # noqa: E402

NAMESPACES = 10
FEATURES = 10


class JsonStore:
    """The indexes' shape: each ModelDeployment as compact JSON, parsed at every read."""

    def __init__(self) -> None:
        self.raw: dict[ModelRef, bytes] = {}
        self.child_entries: dict[ModelRef, dict[ChildKey, Seen]] = {}

    def model(self, ref: ModelRef) -> dict[str, Any] | None:
        raw = self.raw.get(ref)
        return None if raw is None else dict(json.loads(raw))

    def models(self) -> Iterator[dict[str, Any]]:
        for raw in list(self.raw.values()):
            yield dict(json.loads(raw))

    def children(self, ref: ModelRef) -> dict[ChildKey, Seen]:
        return dict(self.child_entries.get(ref, {}))

    def put(self, body: Mapping[str, Any]) -> None:
        meta = body["metadata"]
        raw = json.dumps(body, separators=(",", ":")).encode()
        self.raw[ModelRef(meta["namespace"], meta["name"])] = raw

    def catch_up(self, kube: FakeKube, written: Mapping[ModelRef, dict[str, Any]]) -> None:
        """What the watches deliver: every child as applied, every status as written."""
        by_owner: dict[ModelRef, dict[ChildKey, Seen]] = {}
        for (namespace, _kind, _name), obj in kube.objects.items():
            owner = (obj["metadata"].get("labels") or {}).get(r.LABEL_OWNER)
            if owner is not None:
                by_owner.setdefault(ModelRef(namespace, owner), {})[key_of(obj)] = seen(obj)
        self.child_entries = by_owner
        for ref, status in written.items():
            body = self.model(ref)
            assert body is not None
            body["status"] = status
            meta = body["metadata"]
            meta["resourceVersion"] = str(int(meta.get("resourceVersion", "1")) + 1)
            self.put(body)


class StatusKube(FakeKube):
    """The fake API, remembering each object's status as written (a merge patch)."""

    def __init__(self) -> None:
        super().__init__()
        self.written: dict[ModelRef, dict[str, Any]] = {}
        self.namespace_of: dict[str, str] = {}

    async def patch_status(self, namespace: str, name: str,
                           status: Mapping[str, Any]) -> dict[str, Any]:
        self.calls.append(("status", name))
        ref = ModelRef(namespace, name)
        self.written[ref] = merged(self.written.get(ref, {}), status)
        return {"status": self.written[ref]}


def merged(base: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(dict(base))
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merged(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


class CanaryOnly:
    """What the canary provider hands a model without a canary: its values, none measured."""

    async def collect(self, models: Sequence[ModelDeploymentView],
                      monitored: Sequence[ModelDeploymentView],
                      at: float) -> Mapping[ModelRef, Signals]:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))
        return {ModelRef.of(m): Signals(stamp, values={CANARY: {}}) for m in models}


class Monitoring(CanaryOnly):
    """Every due model's monitoring signals: the same traffic each tick (no drift)."""

    async def collect(self, models: Sequence[ModelDeploymentView],
                      monitored: Sequence[ModelDeploymentView],
                      at: float) -> Mapping[ModelRef, Signals]:
        out = dict(await super().collect(models, monitored, at))
        for md in monitored:
            track = TrackSignals(
                feature_rows={f"f{i}": 5000.0 for i in range(FEATURES)},
                feature_psi={f"f{i}": 0.01 * i for i in range(FEATURES)},
                predictions=5000.0, feedback=400.0, accuracy=0.93, confidence_mean=0.81,
                confidence_below={0.6: 0.05}, last_scrape=at - 5, log_up=1.0,
                log_buffered=0.0, from_rules=True, rules_evaluated=at - 10)
            ref = ModelRef.of(md)
            out[ref] = Signals(out[ref].collected_at, values={
                **out[ref].values, MONITORING_AT: at,
                MONITORING: ModelSignals(tracks={("stable", md.model.version): track})})
        return out


def bodies(count: int) -> list[dict[str, Any]]:
    sample = defaulted_sample()
    out = []
    for i in range(count):
        body = copy.deepcopy(sample)
        body["metadata"].update(name=f"m{i:05d}", namespace=f"team-{i % NAMESPACES}",
                                uid=f"00000000-0000-0000-0000-{i:012d}",
                                resourceVersion="1",
                                creationTimestamp="2026-12-01T00:00:00Z")
        body["spec"]["model"]["uri"] = f"file:///models/m{i:05d}/1"
        out.append(body)
    return out


def engine_for(kube: FakeKube, store: JsonStore) -> Engine:
    recorder = EventRecorder(kube)
    return Engine(kube=kube, settings=OperatorSettings(), store=store,
                  writer=StatusWriter(kube, recorder), post=recorder, leader=Standalone())


async def converge(engine: Engine, kube: StatusKube, store: JsonStore,
                   tick: Tick) -> int:
    """Ticks with the watches catching up between them, until one does nothing."""
    for turn in range(1, 8):
        report = await tick.once()
        store.catch_up(kube, kube.written)
        if report.applied == 0 and report.written == 0:
            return turn
    raise SystemExit("the models did not converge in 7 ticks")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def per_object(engine: Engine, refs: list[ModelRef],
                     signals: Mapping[ModelRef, Signals]) -> list[float]:
    costs = []
    for ref in refs:
        started = time.process_time()
        await engine.reconcile(ref, trigger="tick", signals=signals.get(ref))
        costs.append(time.process_time() - started)
    return costs


def show(label: str, costs: list[float]) -> None:
    print(f"{label}: p50 {statistics.median(costs) * 1e3:.3f} ms, "
          f"p95 {percentile(costs, 0.95) * 1e3:.3f} ms, max {max(costs) * 1e3:.3f} ms "
          f"(CPU per object, {len(costs)} objects)")


async def timed_ticks(name: str, make_tick: Any, kube: FakeKube, ticks: int,
                      profile: bool) -> None:
    for turn in range(1, ticks + 1):
        tick = make_tick()
        before = len(kube.calls)
        wall, cpu = time.perf_counter(), time.process_time()
        report = await tick.once()
        unchanged = getattr(report, "unchanged", "-")  # "-": an engine before it counted them
        print(f"{name} {turn}: {report.models} models, {time.perf_counter() - wall:.2f} s "
              f"wall, {time.process_time() - cpu:.2f} s CPU; {unchanged} unchanged, "
              f"{report.written} status writes, {len(kube.calls) - before} API calls")
    if profile:
        profiler = cProfile.Profile()
        profiler.enable()
        await make_tick().once()
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)


async def main(models: int, ticks: int, profile: bool) -> None:
    kube, store = StatusKube(), JsonStore()
    for body in bodies(models):
        store.put(body)
    engine = engine_for(kube, store)
    started = time.perf_counter()
    turns = await converge(engine, kube, store, Tick(engine, CanaryOnly(), interval=60))
    print(f"converged in {turns} ticks, {time.perf_counter() - started:.1f} s "
          f"({len(kube.calls)} API calls)")
    # Monitoring once, so its sections are written: the idle ticks then find them.
    await Tick(engine, Monitoring(), interval=60).once()
    store.catch_up(kube, kube.written)
    await Tick(engine, Monitoring(), interval=60).once()
    store.catch_up(kube, kube.written)

    canary_tick = Tick(engine, CanaryOnly(), interval=60)
    await timed_ticks("idle tick", lambda: canary_tick, kube, ticks, profile)
    # A fresh Tick has every model due for monitoring, as each minute's tick does.
    await timed_ticks("idle tick with monitoring signals",
                      lambda: Tick(engine, Monitoring(), interval=60), kube, ticks, profile)

    refs = sorted(store.raw, key=lambda ref: (ref.namespace, ref.name))
    parsed = [parse(body) for body in store.models()]
    for label, provider in (("idle reconcile", CanaryOnly()),
                            ("idle reconcile with monitoring signals", Monitoring())):
        # The first pass sees these signals for the first time; the second is measured.
        for _pass in range(2):
            signals = await provider.collect(parsed, parsed, time.time())
            before = len(kube.calls)
            costs = await per_object(engine, refs, signals)
        show(label, costs)
        print(f"  API calls: {len(kube.calls) - before}")
    print(f"load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}, "
          f"{os.cpu_count()} CPUs")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--ticks", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    options = parser.parse_args()
    asyncio.run(main(options.models, options.ticks, options.profile))
