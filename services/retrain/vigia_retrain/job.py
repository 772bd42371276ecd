"""One retraining run: load, train, judge, write, and say what happened.

``run`` never raises for expected trouble: bad input becomes a Refused result (exit 2),
an unreachable store a Failed one (exit 1), and any other error a Failed result with
its message (exit 1) and the traceback on stderr only.
"""

from __future__ import annotations

import sys
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from vigia.bundle import BundleError, DigestMismatchError, ModelBundle, load_bundle, make_bundle
from vigia.costs import CostTable
from vigia.retraining import (
    ACCEPTED,
    FAILED,
    REFUSED,
    RESULT_SCHEMA,
    ExitCode,
    Reason,
    parse_duration,
)
from vigia.settings import RetrainSettings
from vigia_retrain import evaluation, explain, gate, output, regression
from vigia_retrain.dataset import read_dataset
from vigia_retrain.errors import RetrainInputError, UnavailableError
from vigia_retrain.fairness import FeatureFairness, feature_fairness
from vigia_retrain.feedback import FeedbackData, read_feedback, safe_url
from vigia_retrain.html_report import write_html_report
from vigia_retrain.onnx_export import export_candidate
from vigia_retrain.training import Splits, fit_candidate, make_splits

RESULT_IMPORTANCE_TOP = 5


def run(settings: RetrainSettings) -> tuple[dict[str, Any], ExitCode]:
    """The result (the report's summary) and the exit code."""
    started = time.monotonic()
    report: dict[str, Any] = {
        "schema": RESULT_SCHEMA,
        "verdict": FAILED,
        "reasons": [],
        "startedAt": _now(),
    }
    try:
        code = _retrain(settings, report)
    except RetrainInputError as err:
        code = _end(report, REFUSED, err.code, str(err), ExitCode.INVALID_INPUT)
    except UnavailableError as err:
        code = _end(report, FAILED, Reason.UNAVAILABLE, str(err), ExitCode.FAILED)
    except Exception as err:
        traceback.print_exc(file=sys.stderr)
        # An unforeseen error's text may quote the data (a cell a parser choked on); the
        # result reaches status and Events, so it says the kind only and the log the rest.
        message = f"{type(err).__name__} (the job's log has the details)"
        code = _end(report, FAILED, Reason.ERROR, message, ExitCode.FAILED)
    report["finishedAt"] = _now()
    report.setdefault("timing", {})["totalSeconds"] = round(time.monotonic() - started, 3)
    return summary(report), code


def _end(report: dict[str, Any], verdict: str, code: str, message: str, exit_code: ExitCode
         ) -> ExitCode:
    report["verdict"] = verdict
    report["reasons"] = [{"code": code, "message": message}]
    return exit_code


def _retrain(settings: RetrainSettings, report: dict[str, Any]) -> ExitCode:
    timing: dict[str, float] = {}
    report["timing"] = timing
    with _timed(timing, "loadSeconds"):
        current = _load_current(settings)
        meta = current.metadata
        report.update(
            model=meta.name, currentVersion=meta.version, currentUri=settings.model_uri
        )
        _check_sensitive(settings, current)
        X, y = read_dataset(settings.dataset_uri, settings.target, meta.schema.names,
                            numeric=meta.is_regression)
        feedback = _feedback(settings, current, report)
        output.prepare_output(settings.output_uri)
    splits = make_splits(
        X, y, feedback,
        holdout_fraction=settings.holdout_fraction,
        feedback_holdout=settings.feedback_holdout,
        seed=settings.seed,
    )
    report["data"] = {**report.get("data", {}), **_data_counts(len(X), splits)}
    with _timed(timing, "trainSeconds"):
        candidate = fit_candidate(current.estimator, splits.X_train, splits.y_train)
    with _timed(timing, "gateSeconds"):
        findings = _judge(settings, current, candidate, splits, report)
    report.update(
        verdict=REFUSED if findings else ACCEPTED, reasons=[f.to_dict() for f in findings]
    )
    with _timed(timing, "explainSeconds"):
        _explain(settings, candidate, splits, report, current.metadata.is_regression)
    with _timed(timing, "writeSeconds"):
        _write(settings, current, candidate, splits, report)
    return ExitCode.REFUSED if findings else ExitCode.ACCEPTED


@contextmanager
def _timed(timing: dict[str, float], key: str) -> Iterator[None]:
    started = time.monotonic()
    try:
        yield
    finally:
        timing[key] = round(time.monotonic() - started, 3)


def _load_current(settings: RetrainSettings) -> ModelBundle:
    try:
        return load_bundle(settings.model_uri, settings.model_digest, home=settings.home)
    except DigestMismatchError as err:
        raise RetrainInputError("model_digest", str(err)) from err
    except BundleError as err:
        raise RetrainInputError("model_uri", str(err)) from err
    except OSError as err:
        raise UnavailableError("model_uri", f"{settings.model_uri}: {err}") from err


def _check_sensitive(settings: RetrainSettings, current: ModelBundle) -> None:
    names = current.metadata.schema.names
    unknown = [f for f in settings.sensitive_features if f not in names]
    if settings.sensitive_features and current.metadata.is_regression:
        raise RetrainInputError(
            "sensitive_features", "fairness is measured for classifiers only; this model is a "
            "regressor (remove spec.retraining.gate.fairness)")
    if unknown:
        raise RetrainInputError(
            "sensitive_features", f"{unknown} are not features of the model ({', '.join(names)})"
        )


def _feedback(
    settings: RetrainSettings, current: ModelBundle, report: dict[str, Any]
) -> FeedbackData | None:
    if not settings.include_feedback:
        return None
    if not settings.store_url:
        raise RetrainInputError("store_url", "required when include_feedback is true")
    model = settings.feedback_model or current.metadata.name
    since = datetime.now(UTC) - parse_duration(settings.feedback_window)
    feedback = read_feedback(
        settings.store_url, namespace=settings.feedback_namespace, model=model, since=since,
        schema=current.metadata.schema, classes=current.metadata.classes,
        numeric=current.metadata.is_regression,
    )
    report["data"] = {"feedback": {**feedback.counts(), "model": model,
                                   "namespace": settings.feedback_namespace,
                                   "since": since.isoformat(timespec="seconds")}}
    if feedback.used < settings.min_feedback_rows:
        raise RetrainInputError(
            "store_url",
            f"{feedback.used} usable labelled feedback rows for model {model!r} (namespace "
            f"{settings.feedback_namespace!r}) in the last "
            f"{settings.feedback_window} ({feedback.labelled} labelled, "
            f"{feedback.without_features} logged without features, {feedback.invalid} not "
            f"fitting the schema); at least {settings.min_feedback_rows} needed",
            code=Reason.NO_FEEDBACK,
        )
    return feedback


def _data_counts(base_rows: int, splits: Splits) -> dict[str, int]:
    return {
        "baseRows": base_rows,
        "trainRows": len(splits.X_train),
        "baseTrainRows": splits.base_train_rows,
        "feedbackTrainRows": splits.feedback_train_rows,
        "holdoutRows": len(splits.X_holdout),
        "recentRows": len(splits.X_recent),
    }


def _judge(
    settings: RetrainSettings, current: ModelBundle, candidate: Any, splits: Splits,
    report: dict[str, Any],
) -> list[gate.Finding]:
    costs = CostTable.from_json(settings.error_costs) if settings.error_costs else None

    def compare(X: Any, y: Any) -> dict[str, Any]:
        if current.metadata.is_regression:
            return regression.compare(current.estimator, candidate, X, y)
        return evaluation.compare(current.estimator, candidate, X, y, costs)

    holdout = compare(splits.X_holdout, splits.y_holdout)
    recent = (
        compare(splits.X_recent, splits.y_recent)
        if len(splits.X_recent) else None
    )
    fairness = [] if current.metadata.is_regression else _fairness(
        settings, current, candidate, splits)
    limits = gate.Thresholds(
        min_improvement=settings.min_improvement,
        max_holdout_loss=settings.max_holdout_loss,
        max_parity_difference=settings.max_parity_difference,
        min_group_size=settings.min_group_size,
        max_cost_increase=settings.max_cost_increase,
    )
    report["metrics"] = {"holdout": holdout, "recent": recent}
    report["gate"] = limits.to_dict()
    report["fairness"] = {
        f.feature: {**f.to_dict(), "current": current_figures}
        for f, current_figures in fairness
    }
    return gate.decide(holdout, recent, [f for f, _ in fairness], limits)


def _fairness(
    settings: RetrainSettings, current: ModelBundle, candidate: Any, splits: Splits
) -> list[tuple[FeatureFairness, dict[str, float | None]]]:
    X, y = splits.X_eval, splits.y_eval
    classes = [str(c) for c in candidate.classes_]
    new_pred = evaluation.predict_labels(candidate, X)
    old_pred = evaluation.predict_labels(current.estimator, X)
    results = []
    for name in settings.sensitive_features:
        new = feature_fairness(name, X[name], y, new_pred, classes,
                               min_group_size=settings.min_group_size)
        old = feature_fairness(name, X[name], y, old_pred, classes,
                               min_group_size=settings.min_group_size)
        results.append((new, {
            "demographicParityDifference": old.demographic_parity_difference,
            "equalizedOddsDifference": old.equalized_odds_difference,
        }))
    return results


def _explain(
    settings: RetrainSettings, candidate: Any, splits: Splits, report: dict[str, Any],
    is_regression: bool = False,
) -> None:
    importance = explain.feature_importance(
        candidate, splits.X_eval, splits.y_eval, seed=settings.seed, regression=is_regression
    )
    names = explain.droppable(importance, settings.drop_tolerance)
    check = explain.drop_check(
        candidate, names, splits.X_train, splits.y_train, splits.X_eval, splits.y_eval,
        regression=is_regression,
    )
    report["importance"] = importance
    report["drop"] = {**check, "tolerance": settings.drop_tolerance}


def _write(
    settings: RetrainSettings, current: ModelBundle, candidate: Any, splits: Splits,
    report: dict[str, Any],
) -> None:
    meta = current.metadata
    version = settings.candidate_version or datetime.now(UTC).strftime("r%Y%m%d%H%M%S")
    uris = output.candidate_uris(settings.output_uri, meta.name, version)
    bundle = _bundle(candidate, splits, meta.name, version)
    digest = output.write_candidate(bundle, uris.bundle, home=settings.home)
    report["candidate"] = {
        "version": version, "uri": uris.bundle, "digest": digest, "reportUri": uris.report,
        "htmlReportUri": None if meta.is_regression else uris.html_report,
    }
    timing = report["timing"]
    if meta.is_regression:  # the HTML report and the ONNX export speak of classes
        report["settings"] = _shown_settings(settings)
        output.write_report(report, uris.report)
        return
    if settings.export_onnx:
        with _timed(timing, "onnxSeconds"):
            report["onnx"] = export_candidate(
                bundle, splits.X_eval, uris.onnx_folder, home=settings.home
            )
    with _timed(timing, "htmlReportSeconds"):
        write_html_report(bundle, current.estimator, splits, report, uris.html_report)
    report["settings"] = _shown_settings(settings)
    output.write_report(report, uris.report)


def _bundle(candidate: Any, splits: Splits, name: str, version: str) -> ModelBundle:
    try:
        return make_bundle(
            candidate, splits.X_train, splits.y_train, name=name, version=version,
            X_holdout=splits.X_eval, y_holdout=splits.y_eval,
        )
    except BundleError as err:
        raise RetrainInputError("candidate_version", str(err)) from err


def _shown_settings(settings: RetrainSettings) -> dict[str, Any]:
    shown = settings.model_dump()
    if settings.store_url:
        shown["store_url"] = safe_url(settings.store_url)
    return shown


def summary(report: dict[str, Any]) -> dict[str, Any]:
    """The result: the report without settings and with only the top importances."""
    result = {k: v for k, v in report.items() if k != "settings"}
    if "importance" in result:
        top = list(result["importance"].items())[:RESULT_IMPORTANCE_TOP]
        result["importance"] = {name: round(v["mean"], 4) for name, v in top}
    return result


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
