"""Canary rollouts: the spec, the gates, the state machine and the traffic split, all pure."""
