"""What kind of model an estimator is, and whether Vigía can serve it (pure, no I/O).

A bundle holds a fitted classifier with ``predict_proba`` or a fitted regressor with
``predict``, alone or as the last step of a ``Pipeline``. Anything else (an unfitted
estimator, a clusterer, an outlier detector, a transformer alone) is refused when the
bundle is made, with the reason, never when it is served.
"""

from __future__ import annotations

from typing import Any, Final, Literal

from sklearn.base import is_classifier, is_regressor
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

ModelTask = Literal["classification", "regression"]
CLASSIFICATION: Final = "classification"
REGRESSION: Final = "regression"
TASKS: Final = (CLASSIFICATION, REGRESSION)


class UnservableEstimatorError(ValueError):
    """An estimator that Vigía cannot serve; the message says why and what would do."""


def final_step(estimator: Any) -> Any:
    """The estimator that makes the prediction: a Pipeline's last step, else itself."""
    if isinstance(estimator, Pipeline):
        return final_step(estimator.steps[-1][1])
    return estimator


def model_task(estimator: Any) -> ModelTask:
    """``classification`` or ``regression``, or UnservableEstimatorError naming why not."""
    kind = type(final_step(estimator)).__name__
    task = _task_of_kind(final_step(estimator), kind)
    _check_fitted(estimator, kind)
    if task == CLASSIFICATION and not hasattr(estimator, "predict_proba"):
        raise UnservableEstimatorError(
            f"{kind} is a classifier without predict_proba: Vigía serves class "
            "probabilities (for SVC, fit it with probability=True)"
        )
    if task == CLASSIFICATION and not hasattr(estimator, "classes_"):
        raise UnservableEstimatorError(f"{kind} is a classifier without classes_")
    return task


def _task_of_kind(model: Any, kind: str) -> ModelTask:
    if not hasattr(model, "fit"):
        raise UnservableEstimatorError(f"{kind} is not a scikit-learn estimator (no fit)")
    estimator_type = getattr(model, "_estimator_type", None)
    if estimator_type == "clusterer":
        raise UnservableEstimatorError(
            f"{kind} is a clusterer: it has no target to predict and no feedback to judge "
            "it by; Vigía serves classifiers and regressors"
        )
    if estimator_type == "outlier_detector":
        raise UnservableEstimatorError(
            f"{kind} is an outlier detector; Vigía serves classifiers and regressors"
        )
    if is_classifier(model):
        return CLASSIFICATION
    if is_regressor(model):
        return REGRESSION
    if hasattr(model, "transform") and not hasattr(model, "predict"):
        raise UnservableEstimatorError(
            f"{kind} is a transformer alone: it predicts nothing; put it in a Pipeline "
            "before a classifier or a regressor"
        )
    raise UnservableEstimatorError(
        f"{kind} is neither a scikit-learn classifier nor a regressor "
        "(sklearn.base.is_classifier / is_regressor)"
    )


def _check_fitted(estimator: Any, kind: str) -> None:
    try:
        check_is_fitted(estimator)
    except NotFittedError as err:
        raise UnservableEstimatorError(
            f"{kind} is not fitted: call fit before bundling it (a bundle fits nothing)"
        ) from err
    except TypeError as err:  # not an estimator at all
        raise UnservableEstimatorError(f"{kind} is not a scikit-learn estimator") from err
