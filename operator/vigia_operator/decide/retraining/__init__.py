"""Retraining policy and results (pure decisions; the Job is built in build/): the
retraining issue."""
