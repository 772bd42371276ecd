"""The loaded model at work: validated rows in, predictions (logged and counted) out."""

from __future__ import annotations

import asyncio
import random
import secrets
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from vigia.bundle import ModelBundle
from vigia.features import Columns, array_columns, columns_to_frame, record_columns
from vigia.regression import ABS_ERROR_P90, INTERVAL_COVERAGE, INTERVAL_HALFWIDTH
from vigia.settings import ServingSettings

from .batching import Gone, MicroBatcher
from .explain import TreeAttributor
from .feedback import FeedbackItem, FeedbackResult, value_text
from .monitoring import Monitor
from .payloads import RowsRequest
from .store import PendingOrder, PendingPrediction, PredictionRecord, PredictionStore


def new_prediction_id() -> str:
    """128 random bits, URL-safe: unguessable, so feedback cannot be forged by guessing."""
    return secrets.token_urlsafe(16)


def validate(bundle: ModelBundle, request: RowsRequest) -> Columns:
    """Checked columns (not a frame: one frame is built per micro-batch, not per request)."""
    schema = bundle.metadata.schema
    if request.kind == "arrays":
        return array_columns(schema, request.rows)
    return record_columns(schema, request.rows)


def concat_columns(parts: Sequence[Columns]) -> Columns:
    if len(parts) == 1:
        return parts[0]
    return {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}


class ModelRuntime:
    """Serves one bundle: micro-batched predictions, monitoring, logging, feedback."""

    def __init__(
        self,
        bundle: ModelBundle,
        settings: ServingSettings,
        store: PredictionStore,
        monitor: Monitor | None,
    ) -> None:
        # Imported here: keeps the import block the server's own.
        from .compiled import OnnxBundle, select_runtime

        meta = bundle.metadata
        self.bundle = select_runtime(bundle, settings.runtime)
        # The compiled form takes checked columns as they are; scikit-learn needs a frame.
        self._predict_columns = (
            self.bundle.predict_proba_columns if isinstance(self.bundle, OnnxBundle) else None
        )
        self.settings = settings
        self.store = store
        self.monitor = monitor
        self.name = settings.model_name or meta.name
        self.version = settings.model_version or meta.version
        self.classes = list(meta.classes)
        self.regression = meta.is_regression
        self.tolerance = error_tolerance(bundle, settings)
        self._interval = meta.training_metrics.get(INTERVAL_HALFWIDTH)
        self.feature_names = list(meta.schema.names)
        self.batcher: MicroBatcher[Columns, np.ndarray] = MicroBatcher(
            self._predict_batch,
            max_rows=settings.batch_max_rows,
            max_wait_s=settings.batch_wait_ms / 1000.0,
            max_queued_rows=settings.max_queued_rows,
            check_gone_after_s=settings.check_gone_after_ms / 1000.0,
        )
        # SHAP runs in its own thread: one explanation at a time, never in the model's.
        self._explain_executor = ThreadPoolExecutor(1, thread_name_prefix="vigia-explain")
        self._attributor: TreeAttributor | None = None
        self._attributor_lock = threading.Lock()

    def validate(self, request: RowsRequest) -> Columns:
        """Checked columns, or InvalidInputError naming the field (before the model)."""
        return validate(self.bundle, request)

    async def predict(
        self, request: RowsRequest, columns: Columns, gone: Gone | None = None
    ) -> dict[str, Any]:
        return self.answer(request, await self.infer(request, columns, gone))

    async def infer(
        self, request: RowsRequest, columns: Columns, gone: Gone | None = None
    ) -> np.ndarray:
        """The probabilities of the request's rows (micro-batched, in the model's thread)."""
        return await self.batcher.submit(columns, len(request.rows), gone)

    def answer(self, request: RowsRequest, proba: np.ndarray) -> dict[str, Any]:
        """The answer, the predictions queued for the log (Python work per row: the caller
        runs a large one in a thread). ``proba`` is a regressor's values."""
        ids = [new_prediction_id() for _ in range(len(request.rows))]
        if self.regression:
            return self._answer_values(request, ids, proba)
        winners = [self.classes[i] for i in proba.argmax(axis=1).tolist()]
        probabilities = [dict(zip(self.classes, p, strict=True)) for p in proba.tolist()]
        self.store.log(self._records(request, ids, winners, probabilities))
        return {
            "model": self.name,
            "version": self.version,
            "predictions": [
                {"prediction_id": i, "class": c, "probabilities": p}
                for i, c, p in zip(ids, winners, probabilities, strict=True)
            ],
        }

    def _answer_values(
        self, request: RowsRequest, ids: list[str], values: np.ndarray
    ) -> dict[str, Any]:
        numbers = values.tolist()
        texts = [value_text(v) for v in numbers]
        self.store.log(self._records(request, ids, texts, [{}] * len(ids)))
        return {
            "model": self.name,
            "version": self.version,
            "predictions": [
                {"prediction_id": i, "value": v, **self._interval_of(v)}
                for i, v in zip(ids, numbers, strict=True)
            ],
        }

    def _interval_of(self, value: float) -> dict[str, Any]:
        if self._interval is None:
            return {}
        width = self._interval
        return {"interval": {"lower": value - width, "upper": value + width,
                             "coverage": INTERVAL_COVERAGE}}

    def record_feedback(self, items: Sequence[FeedbackItem]) -> list[FeedbackResult]:
        """Blocking: returns once the labels are committed (run it in a thread)."""
        results = self.store.record_feedback(items, self.tolerance)
        if self.monitor is not None:
            self.monitor.observe_feedback(results)
        return results

    def pending(self, limit: int, order: PendingOrder) -> dict[str, Any]:
        """Blocking: the labelling queue's answer (run it in a thread)."""
        rows = self.store.pending(limit, order)
        return {"model": self.name, "order": order, "pending": [_pending(r) for r in rows]}

    async def explain(self, request: RowsRequest) -> dict[str, Any]:
        """Per-row attributions towards the predicted class (SHAP, in its own thread)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._explain_executor, self.explain_now, request)

    def close(self) -> None:
        self._explain_executor.shutdown(wait=False, cancel_futures=True)

    def explain_now(self, request: RowsRequest) -> dict[str, Any]:
        """Blocking (SHAP): per-row attributions towards the predicted class (a regressor's:
        towards its value, in the model's units)."""
        frame = self._frame(validate(self.bundle, request))
        if self.regression:
            return self._explain_values(frame)
        proba = self.bundle.predict_proba(frame)
        values, base = self._explainer().explain(frame)
        winners = proba.argmax(axis=1)
        rows = []
        for r, k in enumerate(winners.tolist()):
            column = k if values.shape[2] > 1 else 0
            attributions = dict(zip(self.feature_names, values[r, :, column].tolist(), strict=True))
            rows.append(
                {
                    "class": self.classes[k],
                    "probability": float(proba[r, k]),
                    "base_value": float(base[r, column]),
                    "attributions": attributions,
                }
            )
        return {"model": self.name, "version": self.version, "explanations": rows}

    def _explain_values(self, frame: pd.DataFrame) -> dict[str, Any]:
        predicted = self.bundle.predict_values(frame)
        values, base = self._explainer().explain(frame)
        rows = [
            {
                "value": float(predicted[r]),
                "base_value": float(base[r, 0]),
                "attributions": dict(zip(self.feature_names, values[r, :, 0].tolist(),
                                         strict=True)),
            }
            for r in range(len(frame))
        ]
        return {"model": self.name, "version": self.version, "explanations": rows}

    def _explainer(self) -> TreeAttributor:
        with self._attributor_lock:
            if self._attributor is None:
                self._attributor = TreeAttributor(self.bundle.estimator, self.feature_names)
            return self._attributor

    def _frame(self, columns: Columns) -> pd.DataFrame:
        return columns_to_frame(self.bundle.metadata.schema, columns)

    def _predict_batch(self, parts: Sequence[Columns]) -> list[np.ndarray]:
        """One model call for a micro-batch of requests; runs in the batcher's thread."""
        columns = concat_columns(parts)
        if self._predict_columns is not None:
            proba = self._predict_columns(columns)
        else:
            proba = self.bundle.predict_output(self._frame(columns))
        if self.monitor is not None:
            self.monitor.observe_batch(columns, proba)
        first = self.feature_names[0]
        bounds = np.cumsum([len(p[first]) for p in parts])[:-1]
        return np.split(proba, bounds)

    def _records(
        self,
        request: RowsRequest,
        ids: list[str],
        winners: list[str],
        probabilities: list[dict[str, float]],
    ) -> list[PredictionRecord]:
        now = datetime.now(UTC)
        mode, rate = self.settings.log_features, self.settings.log_sample_rate
        records = []
        for row, pid, winner, proba in zip(request.rows, ids, winners, probabilities, strict=True):
            keep = mode == "all" or (mode == "sample" and random.random() < rate)
            features = self._features(row) if keep else None
            records.append(
                PredictionRecord(
                    pid, now, self.name, self.version, self.settings.track, features, winner,
                    proba, self.settings.namespace,
                )
            )
        return records

    def _features(self, row: Any) -> dict[str, Any]:
        if isinstance(row, dict):
            return row
        return dict(zip(self.feature_names, row, strict=True))


def error_tolerance(bundle: ModelBundle, settings: ServingSettings) -> float:
    """A regressor's tolerance: the configured one, else the bundle's 90th percentile of
    absolute errors (0 for a classifier, which never uses it)."""
    if settings.error_tolerance is not None:
        return settings.error_tolerance
    return float(bundle.metadata.training_metrics.get(ABS_ERROR_P90, 0.0))


def _pending(row: PendingPrediction) -> dict[str, Any]:
    return {
        "prediction_id": row.id,
        "created_at": row.created_at.isoformat(),
        "version": row.version,
        "track": row.track,
        "inputs": row.features,
        "class": row.predicted,
        "probabilities": row.probabilities,
        "confidence": row.confidence,
    }
