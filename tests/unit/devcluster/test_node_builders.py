"""The real node's pure parts: image archives, the Dockerfile reader, node configuration."""

from __future__ import annotations

import hashlib
import json
import os
import tarfile
from pathlib import Path

import pytest
import yaml
from vigia_devcluster import components, dockerfile, images, nodeconfig, nodenet
from vigia_devcluster.binaries import parse_versions
from vigia_devcluster.imagearchive import ImageConfig, write_archive, write_layer
from vigia_devcluster.layout import Layout, Ports

ROOT = Path(__file__).resolve().parents[3]


def _names(layer: Path) -> set[str]:
    with tarfile.open(layer) as tar:
        return set(tar.getnames())


def test_dockerfile_settings_are_read_from_the_last_stage() -> None:
    text = ("FROM a AS build\nENV X=1\nUSER 0\nFROM b\n# comment\nENV A=1 \\\n    B=\"two words\"\n"
            "USER 10001:10001\nWORKDIR /tmp\nEXPOSE 3000\n"
            'ENTRYPOINT ["serve", "x"]\nCMD ["--port", "3000"]\n')
    spec = dockerfile.parse(text)
    assert spec.env == {"A": "1", "B": "two words"}
    assert (spec.user, spec.workdir, spec.ports) == ("10001:10001", "/tmp", (3000,))
    assert (spec.entrypoint, spec.cmd) == (["serve", "x"], ["--port", "3000"])


def test_dockerfile_shell_form_entrypoint_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="ENTRYPOINT"):
        dockerfile.parse("FROM b\nENTRYPOINT serve x\n")


def test_the_shipped_dockerfile_runs_as_10001_and_writes_under_tmp() -> None:
    spec = dockerfile.parse((ROOT / "services/Dockerfile").read_text())
    assert spec.user == "10001:10001"
    assert spec.entrypoint[:2] == ["bentoml", "serve"]
    writable = ("HOME", "BENTOML_HOME", "VIGIA_HOME", "VIGIA_STORE_URL", "NUMBA_CACHE_DIR")
    assert all(spec.env[k].startswith(("/tmp/", "sqlite:////tmp/")) for k in writable)


def test_layer_keeps_files_links_and_owners_but_not_runtime_mounts(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc/passwd").write_text("root:x:0:0::/:/bin/sh\n")
    os.link(root / "etc/passwd", root / "etc/passwd-")
    (root / "bin").mkdir()
    (root / "bin/sh").symlink_to("dash")
    (root / "proc/1").mkdir(parents=True)
    layer = tmp_path / "layer.tar"
    write_layer(root, layer)
    assert _names(layer) == {"etc", "etc/passwd", "etc/passwd-", "bin", "bin/sh", "proc"}
    with tarfile.open(layer) as tar:
        assert tar.getmember("bin/sh").issym()
        assert tar.getmember("etc/passwd-").islnk()
        assert tar.getmember("etc/passwd").uid == os.getuid()


def test_layer_over_a_base_holds_only_what_changed(tmp_path: Path) -> None:
    base = tmp_path / "base"
    (base / "usr/lib").mkdir(parents=True)
    (base / "usr/lib/a").write_text("a")
    (base / "usr/lib/b").write_text("b")
    tree = tmp_path / "tree"
    os.system(f"cp -a {base} {tree}")
    (tree / "usr/lib/b").write_text("bb")
    (tree / "opt").mkdir()
    (tree / "opt/new").write_text("n")
    layer = tmp_path / "top.tar"
    write_layer(tree, layer, base=base)
    assert _names(layer) == {"usr/lib/b", "opt", "opt/new"}


def test_archive_is_a_docker_save_image_with_its_name_and_config(tmp_path: Path) -> None:
    (tmp_path / "root").mkdir()
    (tmp_path / "root/hello").write_text("hi")
    layer = tmp_path / "layer.tar"
    write_layer(tmp_path / "root", layer)
    archive = tmp_path / "image.tar"
    config = ImageConfig(entrypoint=["/hello"], env={"A": "1"}, user="10001:10001", ports=(80,))
    write_archive(archive, "docker.io/vigia/x:1", [layer], config)
    with tarfile.open(archive) as tar:
        [manifest] = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
        image = json.loads(tar.extractfile(manifest["Config"]).read())  # type: ignore[union-attr]
    assert manifest["RepoTags"] == ["docker.io/vigia/x:1"]
    digest = "sha256:" + hashlib.sha256(layer.read_bytes()).hexdigest()
    assert image["rootfs"]["diff_ids"] == [digest]
    assert (image["os"], image["architecture"]) == ("linux", "amd64")
    assert image["config"]["User"] == "10001:10001"
    assert image["config"]["Env"] == ["A=1"]
    assert manifest["Layers"] == [f"{digest.removeprefix('sha256:')}/layer.tar"]


def test_every_image_is_fully_qualified_and_the_project_image_is_the_crds_default() -> None:
    references = images.references()
    assert set(references) == {"pause", "debian", "coredns", "vigia", "postgresql", "prometheus",
                               "prometheus-operator", "prometheus-config-reloader", "traefik",
                               "metrics-server"}
    assert all(r.startswith("docker.io/vigia/") for r in references.values())
    crd = yaml.safe_load((ROOT / "manifests/crd/modeldeployments.vigia.dev.yaml").read_text())
    text = json.dumps(crd)
    assert '"default": "vigia/vigia:0.1.0"' in text
    assert references["vigia"] == "docker.io/vigia/vigia:0.1.0"


@pytest.mark.parametrize(("tool", "key"), [
    ("prometheus", "PROMETHEUS_VERSION"),
    ("prometheus-operator", "PROMETHEUS_OPERATOR_VERSION"),
    ("gateway", "TRAEFIK_VERSION"),
    ("metrics-server", "METRICS_SERVER_VERSION"),
])
def test_an_image_of_a_built_program_names_the_version_its_build_script_builds(
        tool: str, key: str) -> None:
    built = parse_versions((ROOT / "tools" / tool / "versions.env").read_text())
    assert images.versions()[key] == built[key]


def test_an_images_archive_name_changes_with_its_inputs(monkeypatch: pytest.MonkeyPatch) -> None:
    [pause] = [i for i in images.catalogue() if i.name == "pause"]
    before = images.archive_path(pause)
    changed = images.Image(pause.name, pause.reference, lambda: {"source": "other"}, pause.build)
    assert images.archive_path(changed) != before
    assert images.archive_path(pause) == before  # stable for the same inputs


def test_containerd_config_fits_this_machine(tmp_path: Path) -> None:
    paths = nodeconfig.NodePaths(tmp_path)
    text = nodeconfig.build_containerd_config(paths, "docker.io/vigia/pause:3.10")
    assert "restrict_oom_score_adj = true" in text
    assert "SystemdCgroup = false" in text
    assert f'address = "{paths.containerd_socket}"' in text
    assert 'sandbox_image = "docker.io/vigia/pause:3.10"' in text


def test_pods_get_no_default_route_and_no_masquerade(tmp_path: Path) -> None:
    conflist = json.loads(nodeconfig.build_cni_conflist(nodeconfig.NodePaths(tmp_path)))
    bridge = conflist["plugins"][0]
    assert bridge["ipMasq"] is False
    destinations = {route["dst"] for route in bridge["ipam"]["routes"]}
    assert "0.0.0.0/0" not in destinations
    assert nodenet.SERVICE_CIDR in destinations


def test_kubelet_config_has_the_settings_that_matter(tmp_path: Path) -> None:
    config = json.loads(nodeconfig.build_kubelet_config(
        nodeconfig.NodePaths(tmp_path), tmp_path / "ca", tmp_path / "crt", tmp_path / "key"))
    assert config["cgroupDriver"] == "cgroupfs"
    assert config["failCgroupV1"] is False and config["failSwapOn"] is False
    assert config["resolvConf"] == ""
    assert config["clusterDNS"] == [nodeconfig.CLUSTER_DNS]
    assert config["imageGCHighThresholdPercent"] == 100
    assert config["authentication"]["anonymous"]["enabled"] is False
    assert config["address"] == nodenet.NODE_IP


def test_apiserver_binds_the_node_link_only_with_a_real_node(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    ports = Ports(1, 2, 3, 4, 5)
    plain = components.build_apiserver_args(layout, ports)
    assert "--bind-address=127.0.0.1" in plain
    with_node = components.build_apiserver_args(layout, ports, nodenet.HOST_IP)
    assert f"--bind-address={nodenet.HOST_IP}" in with_node
    assert f"--advertise-address={nodenet.HOST_IP}" in with_node
    assert "--kubelet-preferred-address-types=InternalIP" in with_node


def test_guarded_ranges_cover_pods_services_and_the_node_link() -> None:
    assert set(nodenet.HOST_ROUTES) <= set(nodenet.GUARDED_CIDRS)
    assert nodenet.sample_addresses("10.245.0.0/24") == ["10.245.0.1", "10.245.0.254"]


def test_a_new_archive_replaces_only_the_same_images_least_recently_used_archives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(images, "images_dir", lambda: tmp_path)
    [vigia] = [i for i in images.catalogue() if i.name == "vigia"]
    # Oldest first; the newest KEEP - 1 of them stay beside the new one.
    old = [f"vigia-{n:016x}.tar" for n in range(images.KEEP + 1)]
    others = ["vigia-deps-0123456789abcdef.layer.tar", "vigia-deps-0123456789abcdef",
              "pause-0123456789abcdef.tar"]
    for age, name in enumerate(reversed(old)):
        (tmp_path / name).write_text("")
        os.utime(tmp_path / name, (1_000_000 - age, 1_000_000 - age))
    for name in others:
        (tmp_path / name).write_text("")
    keep = tmp_path / "vigia-fedcba9876543210.tar"
    keep.write_text("")
    images._prune(vigia, keep)
    kept = old[-(images.KEEP - 1):]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*kept, *others, keep.name])
