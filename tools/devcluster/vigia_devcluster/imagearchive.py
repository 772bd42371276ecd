"""Write container images as `docker save` archives with the standard library alone.

An archive holds one uncompressed layer tar per layer, an image config (entrypoint,
environment, user, os/architecture) and a manifest.json naming the image; containerd
imports it with `ctr -n k8s.io images import`.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

# Contents a container runtime provides at run time; never part of a layer.
RUNTIME_DIRS = ("dev", "proc", "sys", "run")


@dataclass(frozen=True)
class ImageConfig:
    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    user: str = ""
    workdir: str = ""
    ports: tuple[int, ...] = ()

    def to_config(self, diff_ids: list[str]) -> dict[str, object]:
        config: dict[str, object] = {
            "Env": [f"{key}={value}" for key, value in self.env.items()],
            "Entrypoint": self.entrypoint or None,
            "Cmd": self.cmd or None,
            "User": self.user,
            "WorkingDir": self.workdir,
            "ExposedPorts": {f"{port}/tcp": {} for port in self.ports},
        }
        return {
            "architecture": "amd64",
            "os": "linux",
            "config": config,
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": [{"created_by": "vigia_devcluster images"} for _ in diff_ids],
        }


def _skip_runtime(root: Path, path: Path) -> bool:
    relative = path.relative_to(root).parts
    return len(relative) >= 2 and relative[0] in RUNTIME_DIRS


def _walk(root: Path) -> Iterable[Path]:
    """Every path under root, parents first, in a stable order."""
    for directory, dirnames, filenames in os.walk(root):
        dirnames.sort()
        here = Path(directory)
        for name in [*dirnames, *sorted(filenames)]:
            yield here / name


def write_layer(
    root: Path, out: Path, base: Path | None = None, exclude: tuple[str, ...] = ()
) -> None:
    """Tar the tree under root (numeric owners kept, runtime dirs left empty) into out.
    With base (the tree root was copied from), only what is new or changed goes in:
    the layer that goes on top of base's."""
    partial = out.with_suffix(".partial")
    with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as tar:
        for path in _walk(root):
            if _skip_runtime(root, path) or path.relative_to(root).parts[0] in exclude:
                continue
            if base is not None and _unchanged(path, base / path.relative_to(root)):
                continue
            info = tar.gettarinfo(str(path), arcname=str(path.relative_to(root)))
            info.uname = info.gname = ""
            if info.isreg():
                with path.open("rb") as data:
                    tar.addfile(info, data)
            else:
                tar.addfile(info)
    partial.replace(out)


def _unchanged(path: Path, original: Path) -> bool:
    try:
        old = original.lstat()
    except OSError:
        return False
    new = path.lstat()
    same_meta = (new.st_mode, new.st_uid, new.st_gid) == (old.st_mode, old.st_uid, old.st_gid)
    if stat.S_ISDIR(new.st_mode):
        return same_meta
    return same_meta and new.st_size == old.st_size and new.st_mtime_ns == old.st_mtime_ns


def _sha256_file(path: Path) -> str:
    with path.open("rb") as data:
        return hashlib.file_digest(data, "sha256").hexdigest()


def write_archive(out: Path, reference: str, layers: list[Path], config: ImageConfig) -> None:
    """A `docker save` archive of the image `reference` (fully qualified, e.g.
    docker.io/vigia/vigia:0.1.0) made of the given layer tars, written atomically."""
    diff_ids = ["sha256:" + _sha256_file(layer) for layer in layers]
    config_json = json.dumps(config.to_config(diff_ids), sort_keys=True).encode()
    config_name = hashlib.sha256(config_json).hexdigest() + ".json"
    layer_names = [f"{diff_id.removeprefix('sha256:')}/layer.tar" for diff_id in diff_ids]
    manifest = [{"Config": config_name, "RepoTags": [reference], "Layers": layer_names}]
    partial = out.with_suffix(".partial")
    with tarfile.open(partial, "w") as tar:
        _add_bytes(tar, config_name, config_json)
        for layer, name in zip(layers, layer_names, strict=True):
            tar.add(str(layer), arcname=name)
        _add_bytes(tar, "manifest.json", json.dumps(manifest).encode())
    partial.replace(out)


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def read_manifest(archive: Path) -> list[dict[str, object]]:
    with tarfile.open(archive) as tar:
        member = tar.extractfile("manifest.json")
        if member is None:
            raise ValueError(f"{archive}: no manifest.json")
        manifest: list[dict[str, object]] = json.loads(member.read())
        return manifest
