"""Real-node benchmark: image build times, node start time, apply-to-serving-Ready latency.

    python3 benchmarks/realnode.py [--cold] [--keep]

Builds (or finds cached) every image of tools/images, starts a local cluster "bench-node"
with the real node, imports the images, installs Vigía from its manifests (operator as the
shipped Deployment, PostgreSQL, Prometheus, the sample bundle) and times one ModelDeployment
from `kubectl apply` to Ready=True. With --cold the image cache is emptied first (the
debootstrap root file system and the CoreDNS binary too). Needs root.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools" / "testbed"))
importlib.import_module("vigia_testbed.checkout").use_this_checkout()

import vigia_devcluster  # noqa: E402
from vigia_devcluster import images  # noqa: E402
from vigia_devcluster.binaries import cache_root  # noqa: E402
from vigia_testbed import realnode as platform  # noqa: E402
from vigia_testbed.pods import E2E_IMAGES, apply  # noqa: E402

NAME = "bench-node"


def timed(what: str, figures: dict[str, float], action: object) -> None:
    began = time.monotonic()
    action()  # type: ignore[operator]
    figures[what] = time.monotonic() - began
    print(f"{what}: {figures[what]:.1f}s", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", action="store_true", help="empty the image cache first")
    parser.add_argument("--keep", action="store_true", help="leave the cluster running")
    args = parser.parse_args()
    figures: dict[str, float] = {}
    if args.cold:
        shutil.rmtree(images.images_dir(), ignore_errors=True)
        shutil.rmtree(cache_root() / f"coredns-{images.versions()['COREDNS_VERSION']}",
                      ignore_errors=True)
    timed("images (all; cold when --cold, else the cached check)", figures,
          lambda: images.ensure(log=lambda line: print(line, flush=True)))
    timed("images again (warm: every archive cached)", figures, lambda: images.ensure())
    vigia_devcluster.down(NAME)
    timed("up --real-node (control plane, node Ready, CoreDNS available)", figures,
          lambda: vigia_devcluster.up(NAME, nodes=0, real_node=True, timeout=600))
    kubeconfig = vigia_devcluster.status(NAME)["kubeconfig"]
    kube = Path(str(kubeconfig))
    try:
        timed("import the e2e images into containerd", figures,
              lambda: vigia_devcluster.load_images(NAME, E2E_IMAGES))
        timed("install manifests/ and manifests/addons (all available)", figures,
              lambda: platform.install(kube))
        namespace = platform.restricted_namespace(kube)
        began = time.monotonic()
        apply(kube, platform.model_deployment("sobaos", platform.SAMPLE_URI),
              namespace=namespace)
        platform.wait_model_ready(kube, namespace, "sobaos")
        figures["apply-to-Ready"] = time.monotonic() - began
        print(f"apply-to-Ready of one ModelDeployment: {figures['apply-to-Ready']:.1f}s")
    finally:
        if not args.keep:
            timed("down", figures, lambda: vigia_devcluster.down(NAME))
    return 0


if __name__ == "__main__":
    sys.exit(main())
