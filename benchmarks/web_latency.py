"""Encoder and decoder latency of a LiteRT bundle in the browser (LiteRT.js, WASM) beside the
Python LiteRT runtime on the same bundle and photo.

    python benchmarks/web_latency.py [--bundle DIR | --config {tiny,full}] [--photo FILE] [--runs 5]
        [--threads 2] [--out benchmarks/WEB.md]

Without ``--bundle`` a fp32 LiteRT bundle of the untrained ``--config`` model is built first
(timing does not depend on the weights). The page (web_demo/, served by scripts/serve_web_demo.py
with the cross-origin isolation headers) runs in Debian's Chromium, headless, twice: with the
threads it gets (threaded WASM, ``navigator.hardwareConcurrency`` workers) and with ``?threads=0``
(the single-threaded build). Each cell is the median of ``--runs`` calls after one warm-up call:
the encoder on the photo's pre-processed input, the decoder on a one-point prompt at the photo's
centre (the embeddings stay in the runtime between calls, as they do for clicks). The Python rows
call ``LiteRTRuntime`` (``tinysam_mobile.bundle.open_bundle``) the same way with ``--threads``
and 1 interpreter threads. Needs ``bash scripts/bootstrap.sh web`` and the ``tflite`` extra.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
WEB = REPO / "web_demo"
DEFAULT_PHOTO = REPO / "tinysam_mobile" / "assets" / "photos" / "picture1.jpg"
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))


def _serve_module():
    spec = importlib.util.spec_from_file_location("serve_web_demo", REPO / "scripts" / "serve_web_demo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_bundle(config: str, out: Path) -> Path:
    from tinysam_mobile.modeling import TINY, TINYSAM, build_untrained
    from tinysam_mobile.toolchain.build import build_bundle as build

    model = build_untrained(TINY if config == "tiny" else TINYSAM, seed=0)
    print(f"building a fp32 LiteRT bundle of the untrained {config} model in {out} ...", flush=True)
    build(model, "tflite", "fp32", out, parity=False, progress=lambda _: None)
    return out


def browser_times(bundle: Path, photo: Path, runs: int, threads: bool, work: Path) -> dict:
    """tinysam.benchmark() in Chromium; the page's report."""
    serve = _serve_module()
    server = serve.make_server(bundle, photo, port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = server.url + ("" if threads else "?threads=0")
        report_file = work / f"report-{int(threads)}.json"
        plan = {
            "url": url,
            "chromium": str(CHROMIUM),
            "timeoutMs": 1_800_000,
            "report": str(report_file),
            "steps": [{"type": "benchmark", "runs": runs, "warmup": 1}],
        }
        (work / "plan.json").write_text(json.dumps(plan))
        run = subprocess.run(
            ["node", str(WEB / "e2e" / "run_e2e.mjs"), str(work / "plan.json")],
            capture_output=True,
            text=True,
            timeout=3600,
        )
        if not report_file.is_file():
            raise RuntimeError(f"the page wrote no report (exit {run.returncode}): {run.stderr[-3000:]}")
        report = json.loads(report_file.read_text())
        if run.returncode != 0 or report.get("failure"):
            raise RuntimeError(f"the page failed: {report.get('failure') or report.get('error')}")
        return report
    finally:
        server.shutdown()
        server.server_close()


def python_times(bundle: Path, photo: Path, runs: int, threads: int) -> dict:
    """LiteRTRuntime on the same bundle: encoder and one-point decoder calls, ms."""
    from tinysam_mobile import transforms
    from tinysam_mobile.bundle import open_bundle
    from tinysam_mobile.contract import LABEL_FOREGROUND
    from tinysam_mobile.images import load_image
    from tinysam_mobile.prompts import PromptBatch, pack_prompt

    runtime = open_bundle(bundle, num_threads=threads)
    pixels = load_image(photo, reduce=False).pixels
    image, _ = transforms.preprocess(pixels)
    height, width = pixels.shape[:2]
    centre = transforms.transform_coords(np.array([[width / 2, height / 2]]), (height, width))
    coords, labels = pack_prompt(centre, np.array([LABEL_FOREGROUND]), None)
    prompts = PromptBatch(coords[None], labels[None])

    def timed(call) -> list[float]:
        call()  # warm-up
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            call()
            times.append(1000 * (time.perf_counter() - start))
        return times

    encode = timed(lambda: runtime.encode(image))
    embeddings = runtime.encode(image)
    decode = timed(lambda: runtime.decode(embeddings, prompts))
    return {"encodeMs": encode, "decodeMs": decode}


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def chromium_version() -> str:
    try:
        return subprocess.run(
            [str(CHROMIUM), "--version"], capture_output=True, text=True, timeout=60
        ).stdout.strip()
    except OSError:
        return "unknown"


def package_version(name: str) -> str:
    try:
        return json.loads((WEB / "node_modules" / name / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return "not installed"


def med(values: list[float]) -> str:
    return f"{statistics.median(values):.1f}"


def spread(values: list[float]) -> str:
    return f"{min(values):.1f}–{max(values):.1f}"


def write_report(args: argparse.Namespace, manifest: dict, rows: list[tuple], pages: list[dict]) -> str:
    from importlib.metadata import version

    page = pages[0]
    runtime = page["runtime"]
    model = manifest["model"]["config"]
    embed = "×".join(str(d) for d in manifest["io"]["encoder_outputs"][0]["shape"])
    lines = [
        "# Latency in the browser (LiteRT.js, WASM) and in Python (LiteRT)",
        "",
        f"Command: `{' '.join(shlex.quote(a) for a in ['python', *sys.argv])}`",
        f"Date: {datetime.date.today().isoformat()}. Machine: {cpu_model()}, {os.cpu_count()} cores; "
        f"load average {args.load[0]:.2f} / {args.load[1]:.2f} / {args.load[2]:.2f} (1 / 5 / 15 min) "
        "before the run"
        + (" (other jobs shared the cores: read the numbers as upper bounds)" if args.load[0] > 0.5 else "")
        + ".",
        f"Browser: {chromium_version()}, headless; LiteRT.js (@litertjs/core) "
        f"{package_version('@litertjs/core')}; "
        f"crossOriginIsolated {str(runtime['crossOriginIsolated']).lower()}, navigator.hardwareConcurrency "
        f"{runtime['hardwareConcurrency']}. Python: ai-edge-litert {version('ai-edge-litert')}.",
        f"Bundle: the {'full-size' if model == 'tinysam' else 'tiny test'} `{model}` model (untrained "
        f"weights), fp32, image embeddings {embed}, "
        f"{manifest['io']['max_points']} slots; photo {page['image']['name']} "
        f"{page['image']['width']}×{page['image']['height']}.",
        "",
        f"Median of {args.runs} calls after one warm-up (min–max in brackets), milliseconds:",
        "",
        "| runtime | threads | encoder ms | decoder ms (one point) |",
        "|---|---|---|---|",
    ]
    for name, threads, times in rows:
        enc, dec = times["encodeMs"], times["decodeMs"]
        lines.append(f"| {name} | {threads} | {med(enc)} ({spread(enc)}) | {med(dec)} ({spread(dec)}) |")
    lines += [
        "",
        "Browser rows: `window.tinysam.benchmark()` of the demo page, the encoder on the pre-processed "
        "input (pre-processing not included), the decoder through the page's runtime adapter with the "
        "embeddings tensor kept between calls (input tensors made and outputs copied out each call, as "
        "for a click). Python rows: `LiteRTRuntime.encode` / `.decode` (the decoder call copies the "
        "embeddings in each time). Threads: the page's WASM threads as LiteRT.js reports them "
        "(threaded build: `navigator.hardwareConcurrency`), the interpreter's `num_threads` in Python.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", type=Path, help="a LiteRT bundle (default: build one of --config)")
    parser.add_argument("--config", choices=("tiny", "full"), default="full", help="the model to build")
    parser.add_argument("--photo", type=Path, default=DEFAULT_PHOTO)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2, help="Python interpreter threads (and 1)")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "WEB.md")
    args = parser.parse_args(argv)
    args.load = os.getloadavg()
    if not CHROMIUM.is_file() or not (WEB / "node_modules" / "playwright-core").is_dir():
        print("web_latency: Chromium or web_demo's npm packages are missing: bash scripts/bootstrap.sh web")
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        bundle = args.bundle or build_bundle(args.config, work / "bundle")
        manifest = json.loads((bundle / "manifest.json").read_text())
        rows, pages = [], []
        for threaded in (True, False):
            print(f"browser, {'threaded' if threaded else 'one thread'} ...", flush=True)
            page = browser_times(bundle, args.photo, args.runs, threaded, work)
            pages.append(page)
            times = page["steps"][0]["result"]
            label = f"Chromium, LiteRT.js WASM{' (threaded build)' if page['runtime']['threaded'] else ''}"
            rows.append((label, page["runtime"]["threads"], times))
        for threads in sorted({args.threads, 1}, reverse=True):
            print(f"python, {threads} thread(s) ...", flush=True)
            rows.append(
                ("Python, ai-edge-litert", threads, python_times(bundle, args.photo, args.runs, threads))
            )
    text = write_report(args, manifest, rows, pages)
    args.out.write_text(text)
    print(text)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
