"""Latency and size of each bundle against the eager float model, measured in one run.

    python benchmarks/run.py --checkpoint untrained BUNDLE_DIR [BUNDLE_DIR ...] [--out benchmarks/LATENCY.md]

Every program is timed on this machine with the same thread count (default 2): the median of
``--repeats`` runs after one warm-up. Ratios are against eager PyTorch in the same run.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from tinysam_mobile.assets import bundled_photos
from tinysam_mobile.bundle import open_bundle
from tinysam_mobile.bundle.manifest import read_manifest
from tinysam_mobile.cli.common import add_checkpoint_args, load_from_args
from tinysam_mobile.prompts import PromptBatch, pack_prompt
from tinysam_mobile.runtimes import TorchRuntime
from tinysam_mobile.runtimes.base import Runtime
from tinysam_mobile.transforms import preprocess


def median_seconds(fn: Callable[[], object], repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def time_runtime(runtime: Runtime, repeats: int) -> tuple[float, float]:
    """(encoder seconds, decoder seconds for one box + point prompt)."""
    image = preprocess(np.asarray(Image.open(bundled_photos()[0]).convert("RGB")))[0]
    embeddings = runtime.encode(image)
    coords, labels = pack_prompt(
        np.array([[500.0, 400.0]]), np.array([1.0]), np.array([200.0, 150, 800, 900])
    )
    prompts = PromptBatch(coords[None], labels[None])
    return (
        median_seconds(lambda: runtime.encode(image), repeats),
        median_seconds(lambda: runtime.decode(embeddings, prompts), repeats),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bundles", nargs="+", type=Path)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/LATENCY.md"))
    add_checkpoint_args(parser)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    loaded = load_from_args(args)
    rows = [
        ("eager PyTorch (fp32)", "-", *time_runtime(TorchRuntime(loaded.model), args.repeats), None, None)
    ]
    print(f"eager: encoder {rows[0][2]:.3f} s, decoder {1000 * rows[0][3]:.1f} ms", flush=True)
    for bundle in args.bundles:
        manifest = read_manifest(bundle)
        enc, dec = time_runtime(open_bundle(bundle, args.threads, manifest), args.repeats)
        sizes = [a["bytes"] / 1e6 for a in manifest["artifacts"].values()]
        label = f"{manifest['target']} {manifest['recipe']['name']}"
        rows.append((label, str(bundle), enc, dec, *sizes))
        print(f"{label}: encoder {enc:.3f} s, decoder {1000 * dec:.1f} ms", flush=True)
    eager_enc, eager_dec = rows[0][2], rows[0][3]
    lines = [
        "# Benchmarks",
        "",
        f"Command: `python benchmarks/run.py {' '.join(sys.argv[1:] if argv is None else argv)}`",
        f"Machine: {platform.processor() or platform.machine()}, {args.threads} threads, "
        f"median of {args.repeats} runs; checkpoint {args.checkpoint}; torch {torch.__version__}.",
        "",
        "| artifact | encoder s | vs eager | decoder ms | vs eager | encoder MB | decoder MB |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, _path, enc, dec, enc_mb, dec_mb in rows:
        size = "- | -" if enc_mb is None else f"{enc_mb:.1f} | {dec_mb:.1f}"
        ratios = f"{eager_enc / enc:.2f}x | {1000 * dec:.1f} | {eager_dec / dec:.2f}x"
        lines.append(f"| {label} | {enc:.3f} | {ratios} | {size} |")
    args.out.write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
