"""Read the run-time settings of services/Dockerfile (its last stage), so the image built
here without Docker carries the same environment, user, entrypoint and ports."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field


@dataclass
class DockerfileSpec:
    env: dict[str, str] = field(default_factory=dict)
    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    user: str = ""
    workdir: str = ""
    ports: tuple[int, ...] = ()


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        keyword, _, rest = line.partition(" ")
        out.append((keyword.upper(), rest.strip()))
    return out


def _exec_form(arguments: str, keyword: str) -> list[str]:
    try:
        value = json.loads(arguments)
    except json.JSONDecodeError as err:
        raise ValueError(f"Dockerfile {keyword}: only the JSON (exec) form is supported") from err
    return [str(v) for v in value]


def parse(text: str) -> DockerfileSpec:
    """The settings of the last stage (from its FROM on)."""
    spec = DockerfileSpec()
    for keyword, arguments in _instructions(text):
        if keyword == "FROM":
            spec = DockerfileSpec()
        elif keyword == "ENV":
            for pair in shlex.split(arguments):
                key, _, value = pair.partition("=")
                spec.env[key] = value
        elif keyword == "ENTRYPOINT":
            spec.entrypoint = _exec_form(arguments, keyword)
        elif keyword == "CMD":
            spec.cmd = _exec_form(arguments, keyword)
        elif keyword == "USER":
            spec.user = arguments
        elif keyword == "WORKDIR":
            spec.workdir = arguments
        elif keyword == "EXPOSE":
            spec.ports += tuple(int(p.split("/")[0]) for p in arguments.split())
    return spec
