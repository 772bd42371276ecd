"""Run this checkout's code, whichever checkout an editable install points at.

The package roots (from pyproject's package-dir) go first on ``sys.path`` and on the
``PYTHONPATH`` that the servers and operators started by the tests and benchmarks inherit.
A caller puts this package's own root first before importing it (see tests/conftest.py).
"""

from __future__ import annotations

import os
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def package_roots() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    package_dirs = config["tool"]["setuptools"]["package-dir"].values()
    return sorted({str((ROOT / d).parent) for d in package_dirs})


def use_this_checkout() -> None:
    roots = package_roots()
    sys.path[:0] = [r for r in roots if r not in sys.path]
    inherited = os.environ.get("PYTHONPATH", "")
    os.environ["PYTHONPATH"] = os.pathsep.join([*roots, inherited]).rstrip(os.pathsep)
