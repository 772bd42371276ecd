"""Shared pytest setup: fixtures for the real processes the tests need live in tests/fixtures/.

The tests run this checkout's code, whichever checkout an editable install points at:
the package roots (from pyproject's package-dir) go first on ``sys.path`` and on the
``PYTHONPATH`` that the servers and operators started by the tests inherit.
"""

from __future__ import annotations

import os
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _package_roots() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    package_dirs = config["tool"]["setuptools"]["package-dir"].values()
    return sorted({str((ROOT / d).parent) for d in package_dirs})


_roots = _package_roots()
sys.path[:0] = [r for r in _roots if r not in sys.path]
os.environ["PYTHONPATH"] = os.pathsep.join([*_roots, os.environ.get("PYTHONPATH", "")]).rstrip(
    os.pathsep
)

pytest_plugins = [
    "tests.fixtures.browser",
    "tests.fixtures.cluster",
    "tests.fixtures.parallel",
    "tests.fixtures.postgres",
    "tests.fixtures.s3",
]
