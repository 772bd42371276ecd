"""The catalogue: condition types, reasons (of conditions and Events) and phases.

Defined once, CamelCase and stable: tools and alerts may match on them. A new status
section adds its condition types and reasons here, and its condition's polarity to
``HEALTHY_STATUS`` so the writer knows which transitions deserve a Warning.
"""

from __future__ import annotations

from typing import Final, Literal

# Condition types.
READY: Final = "Ready"
PROGRESSING: Final = "Progressing"
DEGRADED: Final = "Degraded"
# Set by the monitoring section (status/monitoring.py).
DRIFTED: Final = "Drifted"
ACCURACY_LOW: Final = "AccuracyLow"
CONFIDENCE_LOW: Final = "ConfidenceLow"
KPI_VIOLATED: Final = "KPIViolated"
RETRAINING: Final = "Retraining"
# The prediction log cannot be written (its database is down): predictions are still
# served and buffered, feedback is refused (status/monitoring.py, from the servers' metric).
PREDICTION_LOG_FAILING: Final = "PredictionLogFailing"
# The expected cost of the errors (spec.monitoring.costs) is above its maximum.
COST_HIGH: Final = "CostHigh"
# The confidence distribution moved from the model's own holdout reference (either way).
CONFIDENCE_SHIFT: Final = "ConfidenceShift"
# The accuracy expected without labels (calibrated probabilities) is below the minimum
# (decide/estimate.py); blind to concept drift.
ESTIMATED_ACCURACY_LOW: Final = "EstimatedAccuracyLow"

ConditionStatus = Literal["True", "False", "Unknown"]

# The status a condition has when all is well. A transition away from it is a Warning
# Event, back to it a Normal one; Progressing has no healthy side (both are normal).
HEALTHY_STATUS: Final[dict[str, ConditionStatus]] = {
    READY: "True",
    DEGRADED: "False",
    DRIFTED: "False",
    ACCURACY_LOW: "False",
    CONFIDENCE_LOW: "False",
    KPI_VIOLATED: "False",
    PREDICTION_LOG_FAILING: "False",
    COST_HIGH: "False",
    CONFIDENCE_SHIFT: "False",
    ESTIMATED_ACCURACY_LOW: "False",
}

# Monitoring reasons: what was measured, or why nothing could be decided.
FEATURES_DRIFTED: Final = "FeaturesDrifted"
NO_DRIFT: Final = "NoDrift"
# Drift within one value of a segment feature (spec.monitoring.segments), the population not.
SEGMENT_DRIFTED: Final = "SegmentDrifted"
ACCURACY_BELOW_MIN: Final = "AccuracyBelowMinimum"
ACCURACY_OK: Final = "AccuracyAcceptable"
# Accuracy below the minimum within one value of a segment feature, the population's not.
SEGMENT_ACCURACY_BELOW_MIN: Final = "SegmentAccuracyBelowMinimum"
CONFIDENCE_BELOW_MIN: Final = "ConfidenceBelowMinimum"
CONFIDENCE_OK: Final = "ConfidenceAcceptable"
# A regressor's AccuracyLow: its errors (in its own units) against spec.monitoring.error.
ERROR_ABOVE_MAX: Final = "ErrorAboveMaximum"
ERROR_OK: Final = "ErrorAcceptable"
# A regressor's ConfidenceLow: it has no class probabilities, so nothing to be low.
NO_CONFIDENCE: Final = "NoClassProbabilities"
KPIS_VIOLATED: Final = "KPIsOutOfBounds"
KPIS_MET: Final = "KPIsWithinBounds"
NO_KPIS: Final = "NoKPIs"
INSUFFICIENT_DATA: Final = "InsufficientData"
NO_DATA: Final = "NoData"
STALE_DATA: Final = "StaleData"
PROMETHEUS_UNAVAILABLE: Final = "PrometheusUnavailable"
KPI_QUERY_FAILED: Final = "KPIQueryFailed"
MONITORING_DISABLED: Final = "MonitoringDisabled"
LOG_UNWRITABLE: Final = "DatabaseUnreachable"
LOG_WRITABLE: Final = "PredictionLogWritable"
COST_ABOVE_MAX: Final = "CostAboveMaximum"
COST_OK: Final = "CostAcceptable"
COST_UNBOUNDED: Final = "CostMeasured"  # costs given without a maximum: reported only
NO_COSTS: Final = "NoCosts"
CONFIDENCE_SHIFTED: Final = "ConfidenceShifted"
CONFIDENCE_STEADY: Final = "ConfidenceSteady"
NO_CONFIDENCE_REFERENCE: Final = "NoConfidenceReference"
ESTIMATE_BELOW_MIN: Final = "EstimatedAccuracyBelowMinimum"
ESTIMATE_OK: Final = "EstimatedAccuracyAcceptable"
# The model's bundle has no estimate: its calibration check failed, or it has none.
NO_ESTIMATE: Final = "NoEstimate"

# Serving reasons.
AVAILABLE: Final = "Available"
DEPLOYMENT_PENDING: Final = "DeploymentPending"
ROLLING_OUT: Final = "RollingOut"
ROLLED_OUT: Final = "RolledOut"
REPLICAS_UNAVAILABLE: Final = "ReplicasUnavailable"
PROGRESS_DEADLINE: Final = "ProgressDeadlineExceeded"
REPLICA_FAILURE: Final = "ReplicaFailure"
HEALTHY: Final = "Healthy"
NOT_READY: Final = "NotReady"

# Rollout reasons: the Progressing condition while a canary is in flight, and its Events.
ROLLOUT_PAUSED: Final = "RolloutPaused"
STABLE: Final = "Stable"  # no rollout in flight
ROLLOUT_STARTED: Final = "RolloutStarted"
ROLLOUT_STEP: Final = "RolloutStep"
WAITING_FOR_PODS: Final = "WaitingForCanaryPods"
WAITING_FOR_DATA: Final = "WaitingForData"
ANALYZING: Final = "Analyzing"
ANALYSIS_FAILED: Final = "AnalysisFailed"
ROLLOUT_RESUMED: Final = "RolloutResumed"
PROMOTING: Final = "Promoting"
PROMOTED: Final = "Promoted"
ROLLING_BACK: Final = "RollingBack"
ROLLED_BACK: Final = "RolledBack"
ABORTED: Final = "Aborted"
SUPERSEDED: Final = "Superseded"
VERSION_REJECTED: Final = "VersionRejected"  # spec.model names a version that was rolled back
COMMAND_IGNORED: Final = "RolloutCommandIgnored"
COMMAND_UNKNOWN: Final = "RolloutCommandUnknown"

# Refusals: the spec is not applied; the condition's message says why.
INVALID_SPEC: Final = "InvalidSpec"
APPLY_REFUSED: Final = "ApplyRefused"
# The API server refused the status the operator wrote (a CRD older than the operator?).
STATUS_REFUSED: Final = "StatusRefused"
IMAGE_NOT_ALLOWED: Final = "ImageNotAllowed"
SECRET_NOT_ALLOWED: Final = "SecretNotAllowed"
SCHEME_NOT_ALLOWED: Final = "SchemeNotAllowed"
DIGEST_REQUIRED: Final = "DigestRequired"
GATEWAY_NOT_ALLOWED: Final = "GatewayNotAllowed"
HOSTNAME_NOT_ALLOWED: Final = "HostnameNotAllowed"
OBJECT_CONFLICT: Final = "ObjectConflict"
# A child's kind is not served by the cluster (router GatewayAPI without its CRDs).
API_NOT_SERVED: Final = "APINotServed"
# One object's reconcile failed or ran past its time budget (the others go on).
RECONCILE_FAILED: Final = "ReconcileFailed"
OVER_BUDGET: Final = "OverBudget"

# Event-only reasons.
CREATED: Final = "Created"
UPDATED: Final = "Updated"
RESTORED: Final = "Restored"
MODEL_CHANGED: Final = "ModelChanged"
HAND_EDITED: Final = "HandEdited"
# A child the spec no longer asks for (the HPA once autoscaling is turned off) was deleted.
REMOVED: Final = "Removed"
# The stable track's HPA changed one of its conditions (AbleToScale, ScalingActive,
# ScalingLimited): one Event per change of a condition's status or reason.
AUTOSCALER_CONDITION: Final = "AutoscalerConditionChanged"

# Reasons a condition leaves its healthy status for in normal operation (a version rolling
# out, a new version gathering its samples, a version whose bundle has no calibration check
# or no confidence reference to judge by): their Events are Normal, not Warnings.
ROUTINE_REASONS: Final = frozenset({ROLLING_OUT, DEPLOYMENT_PENDING, INSUFFICIENT_DATA,
                                    NO_ESTIMATE, NO_CONFIDENCE_REFERENCE})

# Phases: one word for `kubectl get`.
PHASE_PENDING: Final = "Pending"
PHASE_PROGRESSING: Final = "Progressing"
PHASE_READY: Final = "Ready"
PHASE_DEGRADED: Final = "Degraded"
PHASE_FAILED: Final = "Failed"

# Event types.
NORMAL: Final = "Normal"
WARNING: Final = "Warning"

# Retraining: Event reasons, and the trigger names in status.retraining.
RETRAINING_STARTED: Final = "RetrainingStarted"
RETRAINING_SKIPPED: Final = "RetrainingSkipped"
RETRAINING_FAILED: Final = "RetrainingFailed"
CANDIDATE_ACCEPTED: Final = "CandidateAccepted"
CANDIDATE_REFUSED: Final = "CandidateRefused"
CANDIDATE_APPROVED: Final = "CandidateApproved"
CANDIDATE_AWAITING_APPROVAL: Final = "CandidateAwaitingApproval"
# Why a due trigger did not start a Job (the skip's reason in status and its Event).
SKIP_COOLDOWN: Final = "Cooldown"
SKIP_ACTIVE: Final = "JobActive"
SKIP_MONITORING_UNKNOWN: Final = "MonitoringUnknown"
# includeFeedback without predictionLog.storeSecretRef: the log is SQLite in the pod's
# emptyDir, which the Job cannot read and every rollout deletes (docs/retraining.md).
SKIP_NO_DURABLE_STORE: Final = "NoDurableStore"
TRIGGER_DRIFT: Final = "Drift"
TRIGGER_ACCURACY: Final = "Accuracy"
TRIGGER_ESTIMATED_ACCURACY: Final = "EstimatedAccuracy"
TRIGGER_SCHEDULE: Final = "Schedule"
TRIGGER_COST: Final = "Cost"
TRIGGER_CONFIDENCE: Final = "Confidence"
