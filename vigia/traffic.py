"""Sample traffic sent to a model server, with the true label of every item sent back as
feedback: what a production line's quality check would do, and what the closed-loop demo
and its e2e test run in a pod beside the model.

The sender also scores the answers itself (it knows the labels), per model version, so a
caller sees the accuracy its traffic met without asking the system it is judging. For the
regression sample (``kind`` weight) the truth is the baked weight, sent back as ``value``;
"correct" is within ``vigia.sample.WEIGHT_TOLERANCE_KG`` and the score adds the MAE.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from vigia.sample import QUALITY, WEIGHT, WEIGHT_TOLERANCE_KG, sample_records

DEFAULT_BATCH = 100
TIMEOUT_SECONDS = 60.0
UNKNOWN_RETRIES = 5
UNKNOWN_RETRY_SECONDS = 1.0


@dataclass
class VersionScore:
    rows: int = 0
    correct: int = 0
    absolute_error: float = 0.0  # a regressor's: the sum of |true - predicted|

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.rows if self.rows else None


@dataclass
class Sent:
    """What a run of the sender sent and met."""

    rows: int = 0
    feedback: int = 0
    by_version: dict[str, VersionScore] = field(default_factory=dict)
    # Requests the server side failed (refused connection, 5xx): counted, not fatal, so a
    # run through a rollout says how many requests it lost.
    errors: int = 0
    last_error: str | None = None

    def score(self, version: str, predicted: list[str], labels: list[str]) -> None:
        scored = self.by_version.setdefault(version, VersionScore())
        scored.rows += len(labels)
        scored.correct += sum(p == t for p, t in zip(predicted, labels, strict=True))
        self.rows += len(labels)

    def score_values(self, version: str, predicted: list[float], truths: list[float]) -> None:
        """A regressor's answers: correct within the sample's tolerance, errors summed."""
        scored = self.by_version.setdefault(version, VersionScore())
        errors = [abs(p - t) for p, t in zip(predicted, truths, strict=True)]
        scored.rows += len(truths)
        scored.correct += sum(e <= WEIGHT_TOLERANCE_KG for e in errors)
        scored.absolute_error += sum(errors)
        self.rows += len(truths)

    def as_dict(self) -> dict[str, Any]:
        correct = sum(s.correct for s in self.by_version.values())
        return {
            "rows": self.rows,
            "feedback": self.feedback,
            "errors": self.errors,
            "lastError": self.last_error,
            "accuracy": round(correct / self.rows, 4) if self.rows else None,
            "byVersion": {
                version: {"rows": s.rows, "correct": s.correct,
                          "accuracy": None if s.accuracy is None else round(s.accuracy, 4),
                          **({"mae": round(s.absolute_error / s.rows, 4)}
                             if s.absolute_error and s.rows else {})}
                for version, s in sorted(self.by_version.items())
            },
        }


def batches(rows: int | None, *, seed: int, drift: float, batch: int = DEFAULT_BATCH,
            kind: str = QUALITY) -> Iterator[tuple[list[dict[str, object]], list[Any]]]:
    """Request rows and their labels, ``batch`` at a time: ``rows`` in all, or without end
    (``rows=None``; each batch from its own seed, so no two repeat)."""
    if rows is not None:
        records, labels = sample_records(kind, rows, seed=seed, drift=drift)
        for start in range(0, rows, batch):
            yield records[start:start + batch], list(labels[start:start + batch])
        return
    for index in itertools.count():
        records, labels = sample_records(kind, batch, seed=seed * 1_000_003 + index,
                                         drift=drift)
        yield records, list(labels)


def send(url: str, rows: int | None, *, seed: int, drift: float, feedback: bool = True,
         batch: int = DEFAULT_BATCH, pause: float = 0.0,
         stop: Callable[[], bool] = lambda: False, kind: str = QUALITY) -> Sent:
    """Send the rows to ``url``'s /predict (and each label to /feedback) until they are all
    sent or ``stop()`` says so; ``pause`` seconds between batches."""
    sent = Sent()
    # A connection per request: behind a Service, kube-proxy balances connections, not
    # requests, so a kept-alive connection would send everything to one pod (one track).
    fresh = httpx.Limits(max_keepalive_connections=0)
    with httpx.Client(base_url=url.rstrip("/"), timeout=TIMEOUT_SECONDS, limits=fresh) as client:
        for records, labels in batches(rows, seed=seed, drift=drift, batch=batch, kind=kind):
            if stop():
                break
            try:
                _send_batch(client, sent, records, labels, feedback, kind)
            except ServerSideError as error:
                sent.errors += 1
                sent.last_error = str(error)
            if pause:
                time.sleep(pause)
    return sent


def _send_batch(client: httpx.Client, sent: Sent, records: list[dict[str, object]],
                labels: list[Any], feedback: bool, kind: str = QUALITY) -> None:
    answer = _post(client, "/predict", {"rows": records})
    predictions = answer["predictions"]
    field = "value" if kind == WEIGHT else "label"
    if kind == WEIGHT:
        sent.score_values(str(answer["version"]), [p["value"] for p in predictions], labels)
    else:
        sent.score(str(answer["version"]), [p["class"] for p in predictions], labels)
    if feedback:
        _post(client, "/feedback", [
            {"prediction_id": p["prediction_id"], field: label}
            for p, label in zip(predictions, labels, strict=True)], retry_unknown=True)
        sent.feedback += len(labels)


class ServerSideError(RuntimeError):
    """The request failed on the server's side (connection refused or reset, 5xx)."""


def _post(client: httpx.Client, path: str, body: object, *,
          retry_unknown: bool = False) -> Any:
    """POST and return the JSON answer. ``retry_unknown``: a 404 (a prediction the pod that
    got the label does not know yet: another pod made it, and flushes its log every half
    second) is retried a few times before it is an error."""
    for attempt in range(UNKNOWN_RETRIES + 1):
        try:
            response = client.post(path, json=body)
        except httpx.TransportError as error:
            raise ServerSideError(f"POST {path}: {error!r}") from error
        if response.status_code == 404 and retry_unknown and attempt < UNKNOWN_RETRIES:
            time.sleep(UNKNOWN_RETRY_SECONDS)
            continue
        if response.status_code >= 500:
            raise ServerSideError(f"POST {path}: {response.status_code} {response.text[:300]}")
        if response.status_code >= 400:  # the request is wrong: no point going on
            raise RuntimeError(f"POST {path}: {response.status_code} {response.text[:300]}")
        return response.json()
    raise AssertionError("unreachable")
