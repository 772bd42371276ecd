"""`python -m vigia_loop --quick` (`scripts/demo --quick`): the sample model served, sent
traffic, judged; no cluster, no root.

Trains the production-line sample model, exports its bundle, starts the real model
server (`bentoml serve`) on 127.0.0.1, sends a day of normal traffic and then a day
of drifted traffic, sends back the true quality of every item as feedback, and
prints what the server measured, in the terms a production manager uses.
"""

from __future__ import annotations

import argparse
import tempfile
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families
from vigia_serving.local import LocalServer

from vigia import metrics
from vigia.bundle import ModelBundle, export_bundle
from vigia.drift import psi
from vigia.sample import DEFECTIVE, GOOD, traffic_records, train_sample_model
from vigia.settings import env_name

ROWS_PER_REQUEST = 25
PSI_ALARM = 0.2

LabelSet = tuple[tuple[str, str], ...]
Counts = dict[LabelSet, float]


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="vigia-demo-") as tmp:
        work = Path(tmp)
        print("Training the sample model (sponge cakes on a production line)...")
        bundle = train_sample_model(rows=args.training_rows)
        uri = (work / "sobaos.bentomodel").as_uri()
        digest = export_bundle(bundle, uri, home=work / "export")
        print(f"  bundle {uri}\n  digest {digest}")
        with _server(work, uri, digest) as url, httpx.Client(base_url=url, timeout=60) as client:
            print(f"Model server ready at {url}\n")
            before = _scrape(client)
            _day(client, "Monday: a normal day", args.rows, seed=11, drift=0.0)
            monday = _scrape(client)
            _report(bundle, _delta(monday, before))
            tuesday = "Tuesday: new flour supplier, humid weather"
            _day(client, tuesday, args.rows, seed=12, drift=1.0)
            _report(bundle, _delta(_scrape(client), monday))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vigia_loop --quick", description=__doc__)
    parser.add_argument("--rows", type=int, default=2000, help="items inspected per day")
    parser.add_argument("--training-rows", type=int, default=5000)
    return parser


@contextmanager
def _server(work: Path, uri: str, digest: str) -> Iterator[str]:
    env = {
        env_name("model_uri"): uri,
        env_name("model_digest"): digest,
        env_name("store_url"): f"sqlite:///{work / 'predictions.db'}",
    }
    server = LocalServer(work, env).start_ready(timeout=180)
    try:
        yield server.url
    finally:
        server.stop()


def _day(client: httpx.Client, title: str, rows: int, *, seed: int, drift: float) -> None:
    """Predict every item, send back its true quality, show the surest mistakes."""
    records, labels = traffic_records(rows, seed=seed, drift=drift)
    feedback, mistakes = [], []
    for start in range(0, rows, ROWS_PER_REQUEST):
        chunk = records[start : start + ROWS_PER_REQUEST]
        response = client.post("/predict", json={"rows": chunk})
        response.raise_for_status()
        for i, prediction in enumerate(response.json()["predictions"]):
            label = labels[start + i]
            feedback.append({"prediction_id": prediction["prediction_id"], "label": label})
            if prediction["class"] != label:
                sureness = prediction["probabilities"][prediction["class"]]
                mistakes.append((sureness, chunk[i], prediction["class"], label))
    for start in range(0, len(feedback), 200):
        client.post("/feedback", json=feedback[start : start + 200]).raise_for_status()
    print(f"== {title}: {rows:,} items predicted, the true quality of each sent back")
    for sureness, record, judged, actual in sorted(mistakes, key=lambda m: -m[0])[:2]:
        shown = ", ".join(f"{k}={_show(v)}" for k, v in list(record.items())[:4])
        print(f"   Wrong and sure of it ({sureness:.0%}): judged {judged}, was {actual}: {shown}")


def _show(value: object) -> str:
    return f"{value:.1f}" if isinstance(value, float) else str(value)


def _scrape(client: httpx.Client) -> dict[str, Counts]:
    """Every Vigía counter the server exports, by sample name and label values."""
    found: dict[str, Counts] = defaultdict(dict)
    for family in text_string_to_metric_families(client.get("/metrics").text):
        for sample in family.samples:
            if sample.name.startswith(metrics.PREFIX):
                found[sample.name][tuple(sorted(sample.labels.items()))] = sample.value
    return found


def _delta(after: dict[str, Counts], before: dict[str, Counts]) -> dict[str, Counts]:
    return {
        name: {key: value - before.get(name, {}).get(key, 0.0) for key, value in series.items()}
        for name, series in after.items()
    }


def _by(series: Counts, *labels: str) -> dict[tuple[str, ...], float]:
    """Sum ``series`` by the values of ``labels``."""
    summed: dict[tuple[str, ...], float] = defaultdict(float)
    for key, value in series.items():
        label_map = dict(key)
        summed[tuple(label_map.get(label, "") for label in labels)] += value
    return summed


def _report(bundle: ModelBundle, seen: dict[str, Counts]) -> None:
    confusion = _by(
        seen.get(metrics.CONFUSION_SERIES, {}), metrics.LABEL_ACTUAL, metrics.LABEL_PREDICTED
    )
    total = sum(confusion.values())
    passed_bad = confusion.get((DEFECTIVE, GOOD), 0.0)
    discarded_good = confusion.get((GOOD, DEFECTIVE), 0.0)
    right = total - passed_bad - discarded_good
    print(f"   Of {total:,.0f} sponge cakes, the model judged {right:,.0f} right:")
    print(
        f"   {passed_bad:,.0f} defective ones passed as good, "
        f"{discarded_good:,.0f} good ones discarded ({right / total:.1%} accuracy)."
    )
    _report_confidence(seen)
    _report_drift(bundle, seen)
    print()


def _report_confidence(seen: dict[str, Counts]) -> None:
    sums = sum(seen.get(f"{metrics.CONFIDENCE}_sum", {}).values())
    counts = sum(seen.get(f"{metrics.CONFIDENCE}_count", {}).values())
    if counts:
        print(f"   Mean confidence {sums / counts:.2f}.")


def _report_drift(bundle: ModelBundle, seen: dict[str, Counts]) -> None:
    bins = _by(seen.get(metrics.FEATURE_BIN_SERIES, {}), metrics.LABEL_FEATURE, metrics.LABEL_BIN)
    profile = bundle.metadata.profile
    scores = {}
    for feature in bundle.metadata.schema.names:
        counts = {b: v for (f, b), v in bins.items() if f == feature}
        scores[feature] = psi(profile.reference_shares(feature), counts)
    drifted = {f: s for f, s in sorted(scores.items(), key=lambda kv: -kv[1]) if s > PSI_ALARM}
    if drifted:
        listing = ", ".join(f"{f} (PSI {s:.2f})" for f, s in drifted.items())
        print(f"   DRIFT: inputs no longer look like the training data: {listing}.")
    else:
        print(
            f"   No drift: every feature's PSI is below {PSI_ALARM} "
            f"(highest {max(scores.values()):.3f})."
        )

