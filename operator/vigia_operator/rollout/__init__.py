"""The canary rollout state machine (pure decisions from spec, status, signals, now):
the canary issue."""
