"""The real processes and clients that the tests and the benchmarks both start and drive:
Prometheus built from its Go module, the operator under its own RBAC, a fleet of model
servers, kubectl waits, simulated traffic. A package of its own, so that benchmarks never
import the test tree."""
