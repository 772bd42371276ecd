"""The distribution's package list covers every package in the tree (a wheel, as the images
install it, holds only the packages pyproject.toml lists), and every console script it
installs (the retraining Job's command among them) names a function that exists."""

from __future__ import annotations

import importlib
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_every_package_directory_is_listed() -> None:
    setuptools = PYPROJECT["tool"]["setuptools"]
    found = set()
    for name, directory in setuptools["package-dir"].items():
        root = ROOT / directory
        for init in root.rglob("__init__.py"):
            parts = init.parent.relative_to(root).parts
            found.add(".".join((name, *parts)))
    data_only = set(setuptools["package-data"]) - found  # directories of data files
    assert found | data_only == set(setuptools["packages"])


def test_every_console_script_names_a_function() -> None:
    scripts = PYPROJECT["project"]["scripts"]
    assert scripts["vigia-retrain"] == "vigia_retrain.cli:main"
    for target in scripts.values():
        module, _, function = target.partition(":")
        assert callable(getattr(importlib.import_module(module), function)), target
