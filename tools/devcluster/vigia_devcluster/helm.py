"""helm (the one built from upstream sources) against a kubeconfig."""

from __future__ import annotations

import subprocess
from pathlib import Path

from vigia_devcluster.binaries import helm_path


class HelmError(RuntimeError):
    def __init__(self, args: list[str], returncode: int, stderr: str) -> None:
        super().__init__(f"helm {' '.join(args)} exited {returncode}: {stderr.strip()}")
        self.returncode = returncode
        self.stderr = stderr


def helm(kubeconfig: Path, *args: str, timeout: float = 600) -> str:
    """Run helm against ``kubeconfig`` and return its stdout; raise HelmError on failure."""
    argv = [str(helm_path()), f"--kubeconfig={kubeconfig}", *args]
    result = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=timeout)
    if result.returncode != 0:
        raise HelmError(list(args), result.returncode, result.stderr)
    return result.stdout
