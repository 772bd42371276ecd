"""The images of the local cluster's real node, built here with no registry.

One Debian root file system (debootstrap, cached) is the base layer of the project image,
PostgreSQL and the `debian` tool image; pause, CoreDNS, Prometheus, the Prometheus
Operator's two programs, Traefik and metrics-server are single static binaries. Each image
is a `docker save` archive under ~/.cache/vigia/images/ whose file name carries the hash of
its inputs, so an unchanged image is never rebuilt. Recipes' own files live in tools/images/.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from vigia_devcluster import dockerfile
from vigia_devcluster.binaries import cache_root, parse_versions
from vigia_devcluster.imagearchive import ImageConfig, write_archive, write_layer

REPO = Path(__file__).resolve().parents[3]
RECIPES = REPO / "tools" / "images"
RECIPE_VERSION = "1"  # bump when a recipe changes in a way its inputs do not show
BASE_PACKAGES = ("python3", "python3-venv", "ca-certificates")
PROJECT_VENV = "/opt/vigia"
# Every entry point's imports, checked in the built image (an undeclared dependency fails
# the build, not the first pod), and the retraining Job's console script, run with --help.
SMOKE_IMPORTS = "import vigia.cli, vigia.settings, vigia_operator.handlers, vigia_serving.app"
RETRAIN_COMMAND = "vigia-retrain"
POSTGRES_UID = 999
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
HOST_CA_BUNDLE = Path(os.environ.get("PIP_CERT", "/etc/ssl/certs/ca-certificates.crt"))
PASSED_ENV = ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "http_proxy", "https_proxy", "no_proxy")
NOBODY_PASSWD = "root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/:/sbin/nologin\n"
NOBODY_GROUP = "root:x:0:\nnogroup:x:65534:\n"


class ImageBuildError(RuntimeError):
    """An image could not be built."""


def versions() -> dict[str, str]:
    return parse_versions((RECIPES / "versions.env").read_text())


def images_dir() -> Path:
    return cache_root() / "images"


def _v(key: str) -> str:
    return versions()[key]


@dataclass(frozen=True)
class Image:
    name: str
    reference: str  # fully qualified, as pod specs name it
    inputs: Callable[[], dict[str, str]]
    build: Callable[[Path], tuple[list[Path], ImageConfig]]  # workdir -> layers, config


def references() -> dict[str, str]:
    """Image name -> fully qualified reference (what manifests use)."""
    return {image.name: image.reference for image in catalogue()}


def catalogue() -> list[Image]:
    return [
        Image("pause", f"docker.io/vigia/pause:{_v('PAUSE_VERSION')}", _pause_inputs, _build_pause),
        Image("debian", f"docker.io/vigia/debian:{_v('DEBIAN_SUITE')}", _rootfs_inputs,
              _build_debian),
        Image("coredns", f"docker.io/vigia/coredns:{_v('COREDNS_VERSION').lstrip('v')}",
              _coredns_inputs, _build_coredns),
        Image("vigia", "docker.io/vigia/vigia:0.1.0", _project_inputs, _build_project),
        Image("postgresql", f"docker.io/vigia/postgresql:{_v('POSTGRESQL_MAJOR')}",
              _postgres_inputs, _build_postgres),
        Image("prometheus", f"docker.io/vigia/prometheus:{_v('PROMETHEUS_VERSION')}",
              _binary_inputs(prometheus_binary), _build_prometheus),
        # The Prometheus Operator and the reloader it runs beside each Prometheus (tests/e2e).
        Image("prometheus-operator",
              f"docker.io/vigia/prometheus-operator:{_v('PROMETHEUS_OPERATOR_VERSION')}",
              _binary_inputs(_operator_binary("operator")),
              _static_binary_build(_operator_binary("operator"), "/bin/operator", (8080,))),
        Image("prometheus-config-reloader",
              f"docker.io/vigia/prometheus-config-reloader:{_v('PROMETHEUS_OPERATOR_VERSION')}",
              _binary_inputs(_operator_binary("prometheus-config-reloader")),
              _static_binary_build(_operator_binary("prometheus-config-reloader"),
                                   "/bin/prometheus-config-reloader")),
        # The Gateway API implementation (tests/e2e/test_gateway.py).
        Image("traefik", f"docker.io/vigia/traefik:{_v('TRAEFIK_VERSION')}",
              _binary_inputs(_traefik_binary),
              _static_binary_build(_traefik_binary, "/bin/traefik", (8000, 9000))),
        # The resource metrics API that a CPU-target autoscaler reads (tests/e2e/test_autoscaling).
        Image("metrics-server", f"docker.io/vigia/metrics-server:{_v('METRICS_SERVER_VERSION')}",
              _binary_inputs(_metrics_server_binary),
              _static_binary_build(_metrics_server_binary, "/bin/metrics-server", (10250,))),
    ]


def input_hash(image: Image) -> str:
    inputs = {"recipe": RECIPE_VERSION, "reference": image.reference, **image.inputs()}
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:16]


def archive_path(image: Image) -> Path:
    return images_dir() / f"{image.name}-{input_hash(image)}.tar"


def ensure(names: list[str] | None = None, log: Callable[[str], None] = print) -> dict[str, Path]:
    """Build the named images (all by default) unless their archive is up to date;
    returns name -> archive."""
    wanted = [i for i in catalogue() if names is None or i.name in names]
    unknown = set(names or ()) - {i.name for i in wanted}
    if unknown:
        raise ValueError(f"images: unknown {sorted(unknown)}; known: {sorted(references())}")
    images_dir().mkdir(parents=True, exist_ok=True)
    out = {}
    for image in wanted:
        archive = archive_path(image)
        with _locked(image.name):
            if archive.exists():
                os.utime(archive)  # last used: pruning keeps the recently used ones
            else:
                _build(image, archive, log)
        out[image.name] = archive
    return out


def _build(image: Image, archive: Path, log: Callable[[str], None]) -> None:
    began = time.monotonic()
    log(f"images: building {image.reference}")
    with tempfile.TemporaryDirectory(dir=images_dir(), prefix=f"work-{image.name}-") as work:
        layers, config = image.build(Path(work))
        write_archive(archive, image.reference, layers, config)
    _prune(image, archive)
    log(f"images: built {image.reference} in {time.monotonic() - began:.0f}s: {archive}")


@contextlib.contextmanager
def _locked(name: str) -> Iterator[None]:
    """One builder at a time per image or shared tree: images are built in parallel (by
    scripts/setup, and by checkouts sharing the cache), and a second builder then finds the
    first one's result."""
    images_dir().mkdir(parents=True, exist_ok=True)
    with (images_dir() / f".{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


# Archives kept per image: checkouts of different sources on one machine (a branch, main, a
# fresh clone) each find their own instead of rebuilding the one another pruned.
KEEP = 3


def _prune(image: Image, keep: Path) -> None:
    archive = re.compile(rf"^{re.escape(image.name)}-[0-9a-f]{{16}}\.tar$")
    others = [p for p in images_dir().iterdir() if archive.match(p.name) and p != keep]
    others.sort(key=_mtime, reverse=True)
    for old in others[KEEP - 1:]:
        old.unlink(missing_ok=True)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:  # pruned meanwhile by another checkout's build
        return 0.0


def _run(argv: list[str], **kwargs: object) -> None:
    result = subprocess.run(argv, check=False, capture_output=True, text=True, **kwargs)  # type: ignore[call-overload]
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-25:])
        raise ImageBuildError(f"{' '.join(argv[:4])}... failed ({result.returncode}):\n{tail}")


def _hash_files(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


# --- the Debian root file system (base layer) ---------------------------------------------

def _rootfs_inputs() -> dict[str, str]:
    return {"suite": _v("DEBIAN_SUITE"), "mirror": _v("DEBIAN_MIRROR"),
            "packages": ",".join(BASE_PACKAGES)}


def rootfs() -> Path:
    """debootstrap's tree, made once per input set (stamp: a file `.complete` inside)."""
    with _locked("rootfs"):
        return _rootfs()


def _rootfs() -> Path:
    key = hashlib.sha256(json.dumps(_rootfs_inputs(), sort_keys=True).encode()).hexdigest()[:16]
    root = images_dir() / f"rootfs-{_v('DEBIAN_SUITE')}-{key}"
    if (root / ".complete").exists():
        return root
    shutil.rmtree(root, ignore_errors=True)
    root.parent.mkdir(parents=True, exist_ok=True)
    _run(["debootstrap", "--variant=minbase", f"--include={','.join(BASE_PACKAGES)}",
          _v("DEBIAN_SUITE"), str(root), _v("DEBIAN_MIRROR")], timeout=1800)
    _run(["chroot", str(root), "sh", "-c",
          "apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin"])
    (root / ".complete").write_text(json.dumps(_rootfs_inputs()))
    return root


def base_layer() -> Path:
    root = rootfs()
    layer = root.with_name(root.name + ".layer.tar")
    with _locked("base-layer"):
        if not layer.exists():
            write_layer(root, layer, exclude=(".complete",))
    return layer


def _copy_rootfs(work: Path) -> Path:
    tree = work / "rootfs"
    _run(["cp", "-a", str(rootfs()), str(tree)])
    (tree / ".complete").unlink()
    return tree


def _chroot(tree: Path, script: str, binds: dict[str, Path] | None = None) -> None:
    """Run script in tree as root, in a mount namespace of its own (so /proc and the bind
    mounts vanish with it) with the host's resolver for package downloads."""
    mounts = [f"mount -t proc proc {tree}/proc"]
    for target, source in (binds or {}).items():
        (tree / target.lstrip("/")).mkdir(parents=True, exist_ok=True)
        mounts.append(f"mount --bind {source} {tree}/{target.lstrip('/')}")
    shutil.copy("/etc/resolv.conf", tree / "etc/resolv.conf")
    # The machine's CA bundle (it may hold the CA of an egress proxy), for this build only.
    shutil.copy(HOST_CA_BUNDLE, tree / "tmp" / "host-ca.crt")
    env = {"PATH": SYSTEM_PATH, "HOME": "/root", "LANG": "C.UTF-8",
           "PIP_CERT": "/tmp/host-ca.crt", "PIP_DISABLE_PIP_VERSION_CHECK": "1",
           "PIP_DEFAULT_TIMEOUT": "180",
           **{k: v for k, v in os.environ.items() if k in PASSED_ENV}}
    try:
        outer = " && ".join([*mounts, f"chroot {tree} /bin/sh -ec {_quote(script)}"])
        _run(["unshare", "--mount", "--propagation", "private", "sh", "-ec", outer], timeout=1800,
             env=env)
    finally:
        (tree / "etc/resolv.conf").write_text("")
        (tree / "tmp" / "host-ca.crt").unlink(missing_ok=True)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def _build_debian(work: Path) -> tuple[list[Path], ImageConfig]:
    return [base_layer()], ImageConfig(cmd=["/bin/bash"], env={"PATH": SYSTEM_PATH})


# --- the project image: services/Dockerfile's contents on the Debian base ------------------

def _project_sources() -> list[Path]:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    package_dirs = config["tool"]["setuptools"]["package-dir"].values()
    roots = sorted({(REPO / d).parent if (REPO / d).parent != REPO else REPO / d
                    for d in package_dirs})
    files = [REPO / "pyproject.toml", REPO / "README.md", REPO / "services/Dockerfile"]
    for root in roots:
        files += [p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts
                  and not p.name.endswith((".pyc", ".egg-info"))]
    return files


def _project_dependencies() -> list[str]:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    return [str(d) for d in config["project"]["dependencies"]]


def _deps_inputs() -> dict[str, str]:
    return {"base": json.dumps(_rootfs_inputs()), "dependencies": "\n".join(
        _project_dependencies()), "venv": PROJECT_VENV}


def _project_inputs() -> dict[str, str]:
    return {**_deps_inputs(), "sources": _hash_files(_project_sources())}


def project_dependencies_tree() -> Path:
    """The root file system + a venv with the project's dependencies and its user: a tree
    cached by the dependency list, so a change of the project's code only adds a small
    layer on top of it."""
    with _locked("vigia-deps"):
        return _project_dependencies_tree()


def _project_dependencies_tree() -> Path:
    key = hashlib.sha256(json.dumps(_deps_inputs(), sort_keys=True).encode()).hexdigest()[:16]
    tree = images_dir() / f"vigia-deps-{key}"
    layer = tree.with_name(tree.name + ".layer.tar")
    if (tree / ".complete").exists() and layer.exists():
        return tree
    previous = [d for d in images_dir().glob("vigia-deps-*") if (d / ".complete").exists()]
    work = Path(tempfile.mkdtemp(dir=images_dir(), prefix="work-vigia-deps-"))
    try:
        if previous:  # a changed list: pip adds what is new to the last tree (minutes saved)
            staged = work / "rootfs"
            _run(["cp", "-a", str(previous[0]), str(staged)])
            (staged / ".complete").unlink()
        else:
            staged = _copy_rootfs(work)
        requirements = staged / "tmp" / "requirements.txt"
        requirements.write_text("\n".join(_project_dependencies()) + "\n")
        _chroot(staged, f"""
            [ -x {PROJECT_VENV}/bin/python3 ] || python3 -m venv {PROJECT_VENV}
            {PROJECT_VENV}/bin/pip install -q -r /tmp/requirements.txt
            rm -f /tmp/requirements.txt
            id vigia >/dev/null 2>&1 || useradd --uid 10001 --user-group --no-create-home \
                --shell /usr/sbin/nologin vigia
        """, binds={"/root/.cache/pip": _pip_cache()})
        shutil.rmtree(staged / "root/.cache", ignore_errors=True)
        write_layer(staged, layer, base=rootfs())
        for old in images_dir().glob("vigia-deps-*"):
            if old != layer:
                shutil.rmtree(old, ignore_errors=True) if old.is_dir() else old.unlink()
        staged.rename(tree)
        (tree / ".complete").write_text(json.dumps(_deps_inputs()))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return tree


def _pip_cache() -> Path:
    cache = Path.home() / ".cache" / "pip"
    cache.mkdir(parents=True, exist_ok=True)
    return cache


def _build_project(work: Path) -> tuple[list[Path], ImageConfig]:
    """Three layers: the root file system, the dependencies, the project's own wheel."""
    wheels, source = work / "wheels", work / "src"
    for path in _project_sources():  # a copy: building writes build/ and *.egg-info
        (source / path.relative_to(REPO)).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, source / path.relative_to(REPO))
    _run(["python3", "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(source)],
         timeout=600)
    deps = project_dependencies_tree()
    tree = work / "rootfs"
    _run(["cp", "-a", str(deps), str(tree)])
    (tree / ".complete").unlink()
    wheel = next(wheels.glob("vigia-*.whl"))
    shutil.copy(wheel, tree / "tmp" / wheel.name)
    _chroot(tree, f"""
        {PROJECT_VENV}/bin/pip install -q --no-deps /tmp/{wheel.name}
        rm -f /tmp/{wheel.name}
        {PROJECT_VENV}/bin/pip check
        {PROJECT_VENV}/bin/python3 -c '{SMOKE_IMPORTS}'
        {PROJECT_VENV}/bin/{RETRAIN_COMMAND} --help >/dev/null
    """)
    shutil.rmtree(tree / "root/.cache", ignore_errors=True)
    layer = work / "project.layer.tar"
    write_layer(tree, layer, base=deps)
    spec = dockerfile.parse((REPO / "services/Dockerfile").read_text())
    env = {"PATH": f"{PROJECT_VENV}/bin:{SYSTEM_PATH}", **spec.env}
    config = ImageConfig(entrypoint=spec.entrypoint, cmd=spec.cmd, env=env, user=spec.user,
                         workdir=spec.workdir, ports=spec.ports)
    deps_layer = deps.with_name(deps.name + ".layer.tar")
    return [base_layer(), deps_layer, layer], config


# --- PostgreSQL (Debian's package) ---------------------------------------------------------

def _postgres_inputs() -> dict[str, str]:
    entrypoint = RECIPES / "postgres-entrypoint.sh"
    return {"base": json.dumps(_rootfs_inputs()), "major": _v("POSTGRESQL_MAJOR"),
            "entrypoint": _hash_files([entrypoint])}


def _build_postgres(work: Path) -> tuple[list[Path], ImageConfig]:
    tree = _copy_rootfs(work)
    major = _v("POSTGRESQL_MAJOR")
    _chroot(tree, f"""
        printf '#!/bin/sh\\nexit 101\\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
        mkdir -p /etc/postgresql-common
        echo 'create_main_cluster = false' >/etc/postgresql-common/createcluster.conf
        groupadd --system --gid {POSTGRES_UID} postgres
        useradd --system --uid {POSTGRES_UID} --gid {POSTGRES_UID} --home-dir /var/lib/postgresql \
            --shell /bin/sh postgres
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            postgresql-{major} >/dev/null
        apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /usr/sbin/policy-rc.d
        mkdir -p /var/lib/postgresql/data
        chown {POSTGRES_UID}:{POSTGRES_UID} /var/lib/postgresql/data
    """)
    shutil.copy(RECIPES / "postgres-entrypoint.sh", tree / "usr/local/bin/vigia-postgres")
    layer = work / "postgres.layer.tar"
    write_layer(tree, layer, base=rootfs())
    config = ImageConfig(
        entrypoint=["/usr/local/bin/vigia-postgres"],
        env={"PATH": f"/usr/lib/postgresql/{major}/bin:{SYSTEM_PATH}",
             "PGDATA": "/var/lib/postgresql/data/pgdata", "HOME": "/tmp"},
        user=f"{POSTGRES_UID}:{POSTGRES_UID}", workdir="/tmp", ports=(5432,))
    return [base_layer(), layer], config


# --- single static binaries ----------------------------------------------------------------

def _static_tree(work: Path, binaries: dict[str, Path]) -> Path:
    """A minimal root: the binaries, /etc/passwd and /etc/group (nobody), an empty /tmp."""
    tree = work / "static"
    for directory in ("etc", "tmp", "dev", "proc", "sys"):
        (tree / directory).mkdir(parents=True, exist_ok=True)
    (tree / "tmp").chmod(0o1777)
    (tree / "etc/passwd").write_text(NOBODY_PASSWD)
    (tree / "etc/group").write_text(NOBODY_GROUP)
    for target, source in binaries.items():
        path = tree / target.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, path)
        path.chmod(0o755)
    return tree


def _static_image(work: Path, binaries: dict[str, Path], config: ImageConfig
                  ) -> tuple[list[Path], ImageConfig]:
    layer = work / "layer.tar"
    write_layer(_static_tree(work, binaries), layer)
    return [layer], config


def _pause_inputs() -> dict[str, str]:
    return {"source": _hash_files([RECIPES / "pause.c"])}


def _build_pause(work: Path) -> tuple[list[Path], ImageConfig]:
    binary = work / "pause"
    _run(["gcc", "-static", "-O2", "-o", str(binary), str(RECIPES / "pause.c")])
    _run(["strip", str(binary)])
    return _static_image(work, {"/pause": binary},
                         ImageConfig(entrypoint=["/pause"], user="65534:65534"))


def _coredns_inputs() -> dict[str, str]:
    return {"version": _v("COREDNS_VERSION"), "go": _go_version()}


def _go_version() -> str:
    return subprocess.run(["go", "env", "GOVERSION"], capture_output=True, text=True,
                          check=False).stdout.strip()


def coredns_binary() -> Path:
    """`go install github.com/coredns/coredns@<v>` into ~/.cache/vigia/coredns-<v>/bin."""
    version = _v("COREDNS_VERSION")
    bin_dir = cache_root() / f"coredns-{version}" / "bin"
    binary = bin_dir / "coredns"
    stamp = bin_dir.parent / "stamp"
    wanted = json.dumps(_coredns_inputs(), sort_keys=True)
    if binary.exists() and stamp.exists() and stamp.read_text() == wanted:
        return binary
    env = {**os.environ, "GOBIN": str(bin_dir), "CGO_ENABLED": "0", "GOTOOLCHAIN": "local",
           "GOFLAGS": "-trimpath"}
    _run(["go", "install", "-ldflags=-s -w", f"github.com/coredns/coredns@{version}"],
         env=env, timeout=1800)
    stamp.write_text(wanted)
    return binary


def _build_coredns(work: Path) -> tuple[list[Path], ImageConfig]:
    return _static_image(work, {"/coredns": coredns_binary()},
                         ImageConfig(entrypoint=["/coredns"], user="65534:65534", ports=(53,)))


def built_binary(tool: str, version_key: str, name: str, script: str | None = None) -> Path:
    """A binary that tools/<script or tool>/build.sh built into ~/.cache/vigia/<tool>-<v>/bin;
    never built a second time here."""
    binary = cache_root() / f"{tool}-{_v(version_key)}" / "bin" / name
    if not binary.exists():
        raise ImageBuildError(
            f"{binary} is missing: run bash tools/{script or tool}/build.sh first")
    return binary


def prometheus_binary() -> Path:
    return built_binary("prometheus", "PROMETHEUS_VERSION", "prometheus")


def _binary_inputs(binary: Callable[[], Path]) -> Callable[[], dict[str, str]]:
    def inputs() -> dict[str, str]:
        path = binary()
        return {"binary": f"{path.stat().st_size}:{path.stat().st_mtime_ns}"}
    return inputs


def _build_prometheus(work: Path) -> tuple[list[Path], ImageConfig]:
    (work / "static/prometheus").mkdir(parents=True)
    return _static_image(
        work, {"/bin/prometheus": prometheus_binary()},
        ImageConfig(entrypoint=["/bin/prometheus"], user="65534:65534", workdir="/prometheus",
                    ports=(9090,)))


def _operator_binary(name: str) -> Callable[[], Path]:
    return lambda: built_binary("prometheus-operator", "PROMETHEUS_OPERATOR_VERSION", name)


def _traefik_binary() -> Path:
    return built_binary("traefik", "TRAEFIK_VERSION", "traefik", script="gateway")


def _metrics_server_binary() -> Path:
    return built_binary("metrics-server", "METRICS_SERVER_VERSION", "metrics-server")


def _static_binary_build(binary: Callable[[], Path], target: str, ports: tuple[int, ...] = ()
                         ) -> Callable[[Path], tuple[list[Path], ImageConfig]]:
    def build(work: Path) -> tuple[list[Path], ImageConfig]:
        return _static_image(work, {target: binary()},
                             ImageConfig(entrypoint=[target], user="65534:65534", ports=ports))
    return build
