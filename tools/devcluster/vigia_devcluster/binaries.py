"""Where the built binaries live, and building them when they are missing."""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import cache
from pathlib import Path

_TOOLS = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = _TOOLS / "cluster" / "build.sh"
VERSIONS_FILE = _TOOLS / "cluster" / "versions.env"


class BinaryError(RuntimeError):
    """A binary is missing and cannot be built."""


def parse_versions(text: str) -> dict[str, str]:
    """Parse the KEY=value lines of versions.env (comments and blank lines ignored)."""
    versions: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            versions[key.strip()] = value.strip()
    return versions


@cache
def versions() -> dict[str, str]:
    return parse_versions(VERSIONS_FILE.read_text())


def cache_root() -> Path:
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "vigia"


def bin_dir() -> Path:
    """The directory build.sh fills (same rule as build.sh, including VIGIA_KUBE_CACHE)."""
    override = os.environ.get("VIGIA_KUBE_CACHE")
    base = Path(override) if override else cache_root() / f"kube-{versions()['KUBE_VERSION']}"
    return base / "bin"


def path_of(name: str) -> Path:
    """Path of a built binary: a component of vigia-kube (e.g. kube-apiserver), kwok or helm."""
    return bin_dir() / name


def kubectl_path() -> Path:
    return _built_or_on_path("kubectl")


def helm_path() -> Path:
    return _built_or_on_path("helm")


def _built_or_on_path(name: str) -> Path:
    built = path_of(name)
    if built.exists():
        return built
    found = shutil.which(name)
    if found:
        return Path(found)
    raise BinaryError(f"{name} not found in {bin_dir()} nor on PATH; run bash {BUILD_SCRIPT}")


def ensure_built(names: tuple[str, ...] = ("vigia-kube", "kwok", "helm")) -> None:
    """Run build.sh when any binary is missing (a no-op when all are there)."""
    if all(path_of(name).exists() for name in names):
        return
    if not BUILD_SCRIPT.exists():
        raise BinaryError(f"binaries missing in {bin_dir()} and no build script at {BUILD_SCRIPT}")
    result = subprocess.run(["bash", str(BUILD_SCRIPT)], check=False)
    if result.returncode != 0:
        raise BinaryError(f"{BUILD_SCRIPT} failed with exit code {result.returncode}")
