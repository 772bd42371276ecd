"""Start detached processes and stop exactly those, by pid (checked against start time)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

from vigia_devcluster.layout import Proc


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces; fields after it start past the last ')'.
    return text[text.rindex(")") + 2 :].split()


def start_ticks(pid: int) -> int:
    fields = _stat_fields(pid)
    if fields is None:
        raise ProcessLookupError(pid)
    return int(fields[19])  # field 22 of /proc/PID/stat: start time in clock ticks


def is_running(proc: Proc) -> bool:
    fields = _stat_fields(proc.pid)
    return fields is not None and fields[0] != "Z" and int(fields[19]) == proc.start_ticks


def start(name: str, executable: Path, argv: list[str], log: Path) -> Proc:
    """Start argv (argv[0] is the component name, passed to the multi-call binary as its
    argv[0]) in its own session, output appended to log."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        child = subprocess.Popen(
            argv,
            executable=str(executable),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Proc(name=name, pid=child.pid, start_ticks=start_ticks(child.pid))


def stop(proc: Proc, grace: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after `grace` seconds; only if the pid is still our process."""
    try:
        if is_running(proc):
            _signal_until_gone(proc, grace)
    finally:
        _reap(proc.pid)


def _signal_until_gone(proc: Proc, grace: float) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while is_running(proc) and time.monotonic() < deadline:
        time.sleep(0.1)
    if is_running(proc):
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
    while is_running(proc):
        time.sleep(0.05)


def _reap(pid: int) -> None:
    """Collect the exit status when the process is our own child (else it stays a zombie)."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)
