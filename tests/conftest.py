"""Shared pytest setup: fixtures for the real processes the tests need live in tests/fixtures/
(pytest fixtures) and in the test bed, vigia_testbed (tools/testbed), which the benchmarks
share.

The tests run this checkout's code, whichever checkout an editable install points at
(``vigia_testbed.checkout``).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools" / "testbed"))  # this checkout's test bed first
from vigia_testbed.checkout import use_this_checkout  # noqa: E402

use_this_checkout()

pytest_plugins = [
    "tests.fixtures.browser",
    "tests.fixtures.cluster",
    "tests.fixtures.parallel",
    "tests.fixtures.postgres",
    "tests.fixtures.s3",
]
