"""Vigía's shared core: model bundle, training profile, drift and accuracy maths,
the metric-name contract and settings. Imports no Kubernetes and no HTTP."""

__version__ = "0.1.0"
