"""The closed loop, end to end, on a cluster: README command 1 (`scripts/demo`) and the e2e
test that asserts each of its steps (tests/e2e/test_closed_loop.py)."""
