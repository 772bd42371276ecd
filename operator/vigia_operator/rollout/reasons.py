"""Event and condition reasons of rollouts (CamelCase, stable: tools may match on them)."""

from typing import Final

STABLE: Final = "Stable"  # no rollout in flight
ROLLOUT_STARTED: Final = "RolloutStarted"
ROLLOUT_STEP: Final = "RolloutStep"
WAITING_FOR_PODS: Final = "WaitingForCanaryPods"
WAITING_FOR_DATA: Final = "WaitingForData"
ANALYZING: Final = "Analyzing"
ANALYSIS_FAILED: Final = "AnalysisFailed"
ROLLOUT_PAUSED: Final = "RolloutPaused"
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
