"""ONNX figures: latency against scikit-learn, sizes, the device runner, the browser.

- per-call latency of predict_proba (scikit-learn, frame in) against onnxruntime (the
  device runner's feed in) at 1, 100 and 1,000 rows, for the sample Pipeline and the
  benchmark's 50-tree forest; median of repeated calls
- file sizes: model.onnx against the .bentomodel archive; install sizes of the device
  runner's packages against the full server's; resident memory of a device runner
  process against a running model server
- the browser: the exported page in Debian's chromium (Playwright), 1 and 1,000 rows

    python3 benchmarks/edge.py [--repeats 200] [--no-browser] [--no-server]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any

import psutil

from vigia.bundle import ModelBundle, export_bundle
from vigia.features import validate_records
from vigia.onnx.export import compile_bundle, write_compiled
from vigia.sample import reference_benchmark_model, traffic_records, train_sample_model

ROOT = Path(__file__).resolve().parents[1]
SIZES = (1, 100, 1000)


def median_ms(call: Callable[[], Any], repeats: int) -> float:
    call()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def latency(name: str, bundle: ModelBundle, numeric_only: bool, repeats: int) -> None:
    compiled = compile_bundle(bundle)
    runner = compiled.runner()
    print(f"\n{name}: parity {compiled.parity.max_probability_difference:.2g} "
          f"(labels agree {compiled.parity.label_agreement:.1%}), model.onnx "
          f"{len(compiled.model) / 1024:.0f} KiB")
    print(f"{'rows':>6} {'sklearn ms':>11} {'onnx ms':>9} {'speed-up':>9} {'onnx us/row':>12}")
    for rows in SIZES:
        records, _ = traffic_records(rows, seed=9, numeric_only=numeric_only)
        if numeric_only:
            records = [{k: (0.0 if v is None else v) for k, v in r.items()} for r in records]
        frame = validate_records(bundle.metadata.schema, records)
        feed = runner.feed(records)
        n = max(5, repeats // max(1, rows // 100))
        sk = median_ms(partial(bundle.predict_proba, frame), n)
        ox = median_ms(partial(runner.predict_proba_feed, feed), n)
        print(f"{rows:>6} {sk:>11.3f} {ox:>9.3f} {sk / ox:>8.1f}x {1000 * ox / rows:>12.1f}")


def closure(name: str) -> set[str]:
    seen: set[str] = set()
    todo = [name]
    while todo:
        current = todo.pop().lower().replace("_", "-")
        if current in seen:
            continue
        try:
            dist = metadata.distribution(current)
        except metadata.PackageNotFoundError:
            continue
        seen.add(current)
        for requirement in dist.requires or []:
            if "extra ==" in requirement:
                continue
            todo.append(requirement.split(";")[0].split("[")[0].split("<")[0].split(">")[0]
                        .split("=")[0].split("!")[0].split("~")[0].strip())
    return seen


def installed_mib(names: set[str]) -> float:
    total = 0
    for name in names:
        dist = metadata.distribution(name)
        for file in dist.files or []:
            path = Path(str(dist.locate_file(file)))
            if path.is_file():
                total += path.stat().st_size
    return total / 2**20


def sizes(work: Path, bundle: ModelBundle) -> Path:
    archive = work / "sobaos.bentomodel"
    export_bundle(bundle, str(archive), home=work / "home")
    folder = work / "device"
    write_compiled(compile_bundle(bundle), folder)
    device = closure("onnxruntime") | closure("numpy")
    server = closure("vigia") if _has("vigia") else set()
    print(f"\nfiles: model.onnx {(folder / 'model.onnx').stat().st_size / 1024:.0f} KiB, "
          f"model.json {(folder / 'model.json').stat().st_size / 1024:.1f} KiB, "
          f".bentomodel {archive.stat().st_size / 1024:.0f} KiB")
    print(f"install: device runner {installed_mib(device):.0f} MiB ({len(device)} packages: "
          f"{', '.join(sorted(device))})")
    if server:
        print(f"install: full server {installed_mib(server):.0f} MiB ({len(server)} packages)")
    return folder


def _has(name: str) -> bool:
    try:
        metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return False
    return True


def device_memory(folder: Path) -> None:
    records, _ = traffic_records(100, seed=3)
    probe = (
        "import json, sys; from vigia.onnx.runner import OnnxModel;"
        "m = OnnxModel.load(sys.argv[1]); rows = json.loads(sys.stdin.read()); m.predict(rows);"
        # VmHWM: this process's peak (ru_maxrss would carry the parent's over fork and exec)
        "print(next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')))"
    )
    done = subprocess.run([sys.executable, "-c", probe, str(folder)], input=json.dumps(records),
                          capture_output=True, text=True, check=True)
    print(f"memory: device runner peak RSS {int(done.stdout) / 1024:.0f} MiB (100 rows)")


def server_memory(work: Path, uri: str) -> None:
    from vigia_serving.local import LocalServer

    for runtime in ("sklearn", "onnx"):
        env = {"VIGIA_MODEL_URI": uri, "VIGIA_STORE_URL": f"sqlite:///{work}/{runtime}.db",
               "VIGIA_RUNTIME": runtime}
        server = LocalServer(work / runtime, env).start_ready()
        try:
            records, _ = traffic_records(100, seed=3)
            import httpx

            httpx.post(server.url + "/predict", json={"rows": records}, timeout=30)
            assert server.process is not None
            parent = psutil.Process(server.process.pid)
            rss = sum(p.memory_info().rss for p in [parent, *parent.children(recursive=True)])
        finally:
            server.stop()
        print(f"memory: model server ({runtime}) RSS {rss / 2**20:.0f} MiB, all processes")


def browser(work: Path, bundle: ModelBundle) -> None:
    from playwright.sync_api import sync_playwright

    from vigia.browser_page import export_web

    site = export_web(compile_bundle(bundle), work / "site")
    records, _ = traffic_records(1000, seed=4)
    names = list(records[0])
    csv = work / "rows.csv"
    csv.write_text("\n".join([",".join(names)] + [
        ",".join("" if r[n] is None else str(r[n]) for n in names) for r in records]) + "\n")
    port = _free_port()
    host = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind",
                             "127.0.0.1", "-d", str(site)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        with sync_playwright() as driver, tempfile.TemporaryDirectory() as profile:
            context = driver.chromium.launch_persistent_context(
                profile, executable_path="/usr/bin/chromium", headless=True,
                args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                      "--disable-background-networking", "--disable-component-update",
                      "--disable-sync"])
            page = context.new_page()
            started = time.perf_counter()
            page.goto(f"http://127.0.0.1:{port}/index.html")
            page.wait_for_selector("body[data-ready=true]", timeout=60_000)
            ready = time.perf_counter() - started
            one = []
            for _ in range(20):
                page.click("#predict")
                page.wait_for_function("document.body.dataset.perRowMs !== undefined")
                one.append(float(page.evaluate("document.body.dataset.perRowMs")))
            page.set_input_files("#csv", str(csv))
            page.wait_for_function("document.querySelectorAll('#results tbody tr').length == 1000")
            many = float(page.evaluate("document.body.dataset.perRowMs"))
            context.close()
    finally:
        host.terminate()
        host.wait(10)
    print(f"\nbrowser (chromium, wasm, 1 thread): page ready in {ready:.2f} s; one row "
          f"{statistics.median(one):.2f} ms (median of 20); 1,000 rows {many * 1000:.1f} ms "
          f"({1000 * many:.1f} us per row)")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--no-server", action="store_true")
    args = parser.parse_args(argv)
    sample = train_sample_model()
    latency("sample Pipeline (impute + one-hot + 60 trees)", sample, False, args.repeats)
    latency("benchmark forest (50 trees, 10 numeric)", reference_benchmark_model(), True,
            args.repeats)
    with tempfile.TemporaryDirectory(prefix="vigia-onnx-bench-") as tmp:
        work = Path(tmp)
        folder = sizes(work, sample)
        device_memory(folder)
        if not args.no_server:
            server_memory(work, f"file://{work}/sobaos.bentomodel")
        if not args.no_browser:
            browser(work, sample)
    return 0


if __name__ == "__main__":
    sys.exit(main())
