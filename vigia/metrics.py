"""The metric-name contract: every Prometheus name and label Vigía emits or queries.

The model server exports these; the operator queries them. Counter names are given
without the ``_total`` suffix that prometheus_client appends on exposition; the
``*_SERIES`` constants are the names as they appear in Prometheus.
"""

from typing import Final

PREFIX: Final = "vigia"

# Labels carried by every model-server series: namespace and model (the ModelDeployment's
# name) identify the ModelDeployment uniquely across the cluster.
LABEL_NAMESPACE: Final = "namespace"
LABEL_MODEL: Final = "model"
LABEL_VERSION: Final = "version"
LABEL_TRACK: Final = "track"
SERVER_LABELS: Final = (LABEL_NAMESPACE, LABEL_MODEL, LABEL_VERSION, LABEL_TRACK)
# What one signal is grouped by: a ModelDeployment's track, whatever its replicas and versions.
TRACK_KEY_LABELS: Final = (LABEL_NAMESPACE, LABEL_MODEL, LABEL_TRACK)

TRACK_STABLE: Final = "stable"
TRACK_CANARY: Final = "canary"
TRACKS: Final = (TRACK_STABLE, TRACK_CANARY)

# Where a monitoring series was counted: the server's own predictions, or aggregates sent
# back by a device runner or the browser page (POST /telemetry). Every rule and query sums
# over it, so models outside the cluster are judged with the server's traffic.
LABEL_SOURCE: Final = "source"
SOURCE_SERVER: Final = "server"
SOURCE_EDGE: Final = "edge"
SOURCE_BROWSER: Final = "browser"
DEVICE_SOURCES: Final = (SOURCE_EDGE, SOURCE_BROWSER)

# Per-series labels.
LABEL_CLASS: Final = "class"
LABEL_FEATURE: Final = "feature"
LABEL_BIN: Final = "bin"
LABEL_OUTCOME: Final = "outcome"
LABEL_ACTUAL: Final = "actual"
LABEL_PREDICTED: Final = "predicted"

OUTCOME_CORRECT: Final = "correct"
OUTCOME_INCORRECT: Final = "incorrect"

# Model server: predictions and confidence.
PREDICTIONS: Final = f"{PREFIX}_predictions"  # counter {class}
CONFIDENCE: Final = f"{PREFIX}_prediction_confidence"  # histogram of max probability
CONFIDENCE_BUCKETS: Final = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0)

# Model server: input distribution against the training profile.
FEATURE_BIN: Final = f"{PREFIX}_feature_bin"  # counter {feature, bin}
FEATURE_MISSING: Final = f"{PREFIX}_feature_missing"  # counter {feature}
FEATURE_OUT_OF_RANGE: Final = f"{PREFIX}_feature_out_of_range"  # counter {feature}

# Model server: the training reference the live distributions are judged against (gauges,
# constant for a version), so drift is computed from Prometheus alone.
FEATURE_REFERENCE: Final = f"{PREFIX}_feature_reference_share"  # gauge {feature, bin}
CLASS_PRIOR: Final = f"{PREFIX}_class_prior"  # gauge {class}
# The model's own confidence on its holdout, binned at bundle time like CONFIDENCE: the
# share at or below each bucket bound (cumulative, as the histogram), and the rows behind it.
CONFIDENCE_REFERENCE: Final = f"{PREFIX}_confidence_reference_share"  # gauge {le}
CONFIDENCE_REFERENCE_ROWS: Final = f"{PREFIX}_confidence_reference_rows"  # gauge

# Model server: estimated accuracy without labels (vigia.calibration). The chance each
# prediction is right (its top probability through the bundle's calibration map), summed;
# divided by the predictions, the accuracy to expect. Exported only by a bundle whose
# calibration check passed. CALIBRATION_ERROR (gauge, constant for a version): the check's
# cross-fitted expected calibration error on the holdout, exported whenever the bundle has a
# check, so the operator can say why there is no estimate.
EXPECTED_CORRECT: Final = f"{PREFIX}_expected_correct"  # counter
CALIBRATION_ERROR: Final = f"{PREFIX}_calibration_error"  # gauge

# Model server: segments (vigia.segments, spec.monitoring.segments). The input bins counted
# within each value of a segment feature, and each value's own training reference (gauge).
# counter {segment, segment_value, feature, bin}
SEGMENT_FEATURE_BIN: Final = f"{PREFIX}_segment_feature_bin"
SEGMENT_REFERENCE: Final = f"{PREFIX}_segment_reference_share"  # gauge, the same labels
# Feedback by the segment value of the prediction it labels (its logged inputs).
SEGMENT_FEEDBACK: Final = f"{PREFIX}_segment_feedback"  # counter {segment, segment_value, outcome}
LABEL_SEGMENT: Final = "segment"  # the segment feature's name
LABEL_SEGMENT_VALUE: Final = "segment_value"

# Model server: ground truth sent back by applications. Every feedback counts in FEEDBACK
# (a label, or only "correct": true|false); those whose true class is known (given, or implied)
# also in CONFUSION and FEEDBACK_LABELLED. Divided by PREDICTIONS (all by the version that
# predicted), they give the share of predictions labelled, across replicas (docs/monitoring.md).
FEEDBACK: Final = f"{PREFIX}_feedback"  # counter {outcome}
CONFUSION: Final = f"{PREFIX}_confusion"  # counter {actual, predicted}
FEEDBACK_LABELLED: Final = f"{PREFIX}_feedback_labelled"  # counter: true class known
# A regressor's feedback (a true value): FEEDBACK's outcome is "correct" when the error is
# within the tolerance (VIGIA_ERROR_TOLERANCE), FEEDBACK_LABELLED counts the values, and
# these two sum |true - predicted| and (true - predicted)^2 in the model's own units, so
# MAE and RMSE are sums over replicas divided by counts (docs/monitoring.md). A regressor's
# PREDICTIONS and CLASS_PRIOR use the deciles of its training predictions as the ``class``
# ("0".."9"): the prediction-shift rule judges its output's distribution like a classifier's.
FEEDBACK_ABSOLUTE_ERROR: Final = f"{PREFIX}_feedback_absolute_error"  # counter (sum)
FEEDBACK_SQUARED_ERROR: Final = f"{PREFIX}_feedback_squared_error"  # counter (sum)

# Model server: its API requests, labelled by the server itself (SERVER_LABELS), so the
# canary's error and latency gates work with any scrape configuration, relabelled or not.
REQUESTS: Final = f"{PREFIX}_requests"  # counter {endpoint, code}
REQUEST_DURATION: Final = f"{PREFIX}_request_duration_seconds"  # histogram {endpoint}
LABEL_ENDPOINT: Final = "endpoint"
# Per pod, a rate of REQUESTS: not exported by the servers but served to the autoscaler by a
# Prometheus adapter (custom metrics API, a Pods metric; docs/autoscaling.md has its rule).
REQUESTS_PER_SECOND: Final = f"{PREFIX}_requests_per_second"
LABEL_CODE: Final = "code"
MEASURED_ENDPOINTS: Final = ("/predict", "/feedback", "/feedback/pending", "/explain")
REQUEST_DURATION_BUCKETS: Final = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

# Model server: requests rejected before prediction.
REJECTED_REQUESTS: Final = f"{PREFIX}_rejected_requests"  # counter {reason}
LABEL_REASON: Final = "reason"
# Model server: prediction-log rows lost (buffer full while the database is unreachable,
# or a row the database refused). Labels: reason only.
PREDICTION_LOG_DROPPED: Final = f"{PREFIX}_prediction_log_dropped_rows"  # counter {reason}
# Model server: whether the prediction log's database can be written (1) or not (0), and
# the rows waiting in memory for it. Labels: SERVER_LABELS. Readiness does not follow it
# (a model that can predict serves on); the operator's PredictionLogFailing condition does.
PREDICTION_LOG_UP: Final = f"{PREFIX}_prediction_log_up"  # gauge
PREDICTION_LOG_BUFFERED: Final = f"{PREFIX}_prediction_log_buffered_rows"  # gauge

# Operator: what it measured and decided, per ModelDeployment (labels namespace, model).
OPERATOR_DRIFT: Final = f"{PREFIX}_operator_drift_score"  # gauge {feature, statistic}
OPERATOR_ACCURACY: Final = f"{PREFIX}_operator_accuracy"  # gauge
OPERATOR_CONFIDENCE: Final = f"{PREFIX}_operator_confidence_mean"  # gauge
OPERATOR_KPI: Final = f"{PREFIX}_operator_kpi"  # gauge {kpi}
# Expected cost of errors per 1,000 predictions, in spec.monitoring.costs.unit (label unit).
OPERATOR_COST: Final = f"{PREFIX}_operator_cost_per_thousand"  # gauge {unit}
LABEL_UNIT: Final = "unit"
OPERATOR_STATE: Final = f"{PREFIX}_operator_monitoring_state"  # gauge {condition}: 1 when True
OPERATOR_DECISIONS: Final = f"{PREFIX}_operator_decisions"  # counter {decision}
OPERATOR_TICK_SECONDS: Final = f"{PREFIX}_operator_tick_duration_seconds"  # histogram
OPERATOR_QUERIES: Final = f"{PREFIX}_operator_prometheus_queries"  # counter {signal}
OPERATOR_QUERY_ERRORS: Final = f"{PREFIX}_operator_prometheus_query_errors"  # counter {signal}
LABEL_STATISTIC: Final = "statistic"
LABEL_KPI: Final = "kpi"
LABEL_CONDITION: Final = "condition"
LABEL_DECISION: Final = "decision"
LABEL_SIGNAL: Final = "signal"


def series(counter_name: str) -> str:
    """The name a counter has in Prometheus (prometheus_client appends ``_total``)."""
    return f"{counter_name}_total"


PREDICTIONS_SERIES: Final = series(PREDICTIONS)
FEATURE_BIN_SERIES: Final = series(FEATURE_BIN)
FEATURE_MISSING_SERIES: Final = series(FEATURE_MISSING)
FEATURE_OUT_OF_RANGE_SERIES: Final = series(FEATURE_OUT_OF_RANGE)
FEEDBACK_SERIES: Final = series(FEEDBACK)
REQUESTS_SERIES: Final = series(REQUESTS)
CONFUSION_SERIES: Final = series(CONFUSION)
FEEDBACK_LABELLED_SERIES: Final = series(FEEDBACK_LABELLED)
FEEDBACK_ABSOLUTE_ERROR_SERIES: Final = series(FEEDBACK_ABSOLUTE_ERROR)
FEEDBACK_SQUARED_ERROR_SERIES: Final = series(FEEDBACK_SQUARED_ERROR)
EXPECTED_CORRECT_SERIES: Final = series(EXPECTED_CORRECT)
SEGMENT_FEATURE_BIN_SERIES: Final = series(SEGMENT_FEATURE_BIN)
SEGMENT_FEEDBACK_SERIES: Final = series(SEGMENT_FEEDBACK)
