"""The demo. The closed loop, end to end, on a cluster: README command 1 (`scripts/demo`,
`python -m vigia_loop`) and the e2e test that asserts each of its steps
(tests/e2e/test_closed_loop.py); with `--quick`, the model server alone on 127.0.0.1
(`vigia_loop.quick`), without a cluster."""
