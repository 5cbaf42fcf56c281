"""Segment everything: hierarchical vs 32x32 grid, decoder work, wall time and mask agreement.

    python benchmarks/everything.py --checkpoint untrained [--bundle DIR] [--out benchmarks/EVERYTHING.md]

Part 1 runs both strategies on the oracle scenes (known objects; see ``tinysam_mobile.testing.oracle``).
Part 2 runs both on the full-size model (eager, or ``--bundle``'s runtime) on a bundled photo, and
projects each strategy's time on the oracle scenes' prompt counts with the model's measured cost per
decoded prompt. Everything is measured in this one run with ``--threads`` threads.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from tinysam_mobile.assets import bundled_photos
from tinysam_mobile.automatic_mask_generator import STRATEGIES, AutoMaskGenerator, EverythingResult
from tinysam_mobile.cli.common import add_checkpoint_args, add_runtime_args, runtime_from_args
from tinysam_mobile.predictor import Predictor
from tinysam_mobile.testing.oracle import OracleRuntime, synthetic_scene

FOUND_IOU = 0.9


def best_ious(masks: list[np.ndarray], others: list[np.ndarray]) -> np.ndarray:
    """For each mask, its best IoU with any of ``others``."""
    best = np.zeros(len(masks))
    for i, mask in enumerate(masks):
        for other in others:
            best[i] = max(best[i], (mask & other).sum() / max((mask | other).sum(), 1))
    return best


def timed(generator: AutoMaskGenerator, image: np.ndarray) -> tuple[EverythingResult, float]:
    start = time.perf_counter()
    result = generator.generate(image)
    return result, time.perf_counter() - start


def oracle_part(scenes: int) -> tuple[list[str], dict[str, float]]:
    """Rows for the oracle scenes and the mean prompts decoded per strategy."""
    totals = {s: {"points": 0, "calls": 0, "seconds": 0.0, "found": 0} for s in STRATEGIES}
    objects = agree = 0
    for seed in range(scenes):
        scene = synthetic_scene(480, 640, seed)
        masks = {}
        for strategy in STRATEGIES:
            result, seconds = timed(AutoMaskGenerator(OracleRuntime(scene), strategy=strategy), scene.image())
            masks[strategy] = [r["segmentation"] for r in result]
            truth = [scene.mask(k) for k in scene.object_ids]
            totals[strategy]["found"] += int((best_ious(truth, masks[strategy]) >= FOUND_IOU).sum())
            totals[strategy]["points"] += result.points_decoded
            totals[strategy]["calls"] += result.decode_calls
            totals[strategy]["seconds"] += seconds
        objects += len(scene.object_ids)
        agree += int((best_ious(masks["grid"], masks["hierarchical"]) >= FOUND_IOU).sum())
    grid_masks = totals["grid"]["found"]
    rows = [
        f"Oracle scenes: {scenes} synthetic 640x480 scenes, {objects} known objects.",
        "",
        "| strategy | prompts decoded | vs grid | decode calls | objects found | wall s (oracle) |",
        "|---|---|---|---|---|---|",
    ]
    for strategy in STRATEGIES:
        t = totals[strategy]
        ratio = t["points"] / totals["grid"]["points"]
        rows.append(
            f"| {strategy} | {t['points']} | {ratio:.2f}x | {t['calls']} | {t['found']}/{objects} "
            f"| {t['seconds']:.2f} |"
        )
    rows += ["", f"Grid masks matched by a hierarchical mask (IoU ≥ {FOUND_IOU}): {agree}/{grid_masks}.", ""]
    return rows, {s: totals[s]["points"] / scenes for s in STRATEGIES}


def model_part(args: argparse.Namespace, oracle_points: dict[str, float]) -> list[str]:
    predictor = Predictor(runtime_from_args(args))
    image = np.asarray(Image.open(bundled_photos()[0]).convert("RGB"))
    start = time.perf_counter()
    predictor.set_image(image)
    encode_seconds = time.perf_counter() - start
    results = {s: timed(AutoMaskGenerator(predictor, strategy=s), image) for s in STRATEGIES}
    rows = [
        f"Full-size model ({predictor.runtime.name}, checkpoint {args.checkpoint}) on "
        f"{bundled_photos()[0].name} {image.shape[1]}x{image.shape[0]}; encoder {encode_seconds:.2f} s.",
        "",
        "| strategy | prompts decoded | decode calls | masks | wall s (incl. encode) | ms per prompt "
        "| projected s on oracle prompt counts |",
        "|---|---|---|---|---|---|---|",
    ]
    for strategy, (result, seconds) in results.items():
        per_prompt = (seconds - encode_seconds) / result.points_decoded
        projected = encode_seconds + per_prompt * oracle_points[strategy]
        rows.append(
            f"| {strategy} | {result.points_decoded} | {result.decode_calls} | {len(result)} "
            f"| {seconds:.2f} | {1000 * per_prompt:.1f} | {projected:.2f} |"
        )
    grid_masks = [r["segmentation"] for r in results["grid"][0].masks]
    hier_masks = [r["segmentation"] for r in results["hierarchical"][0].masks]
    agree = int((best_ious(grid_masks, hier_masks) >= FOUND_IOU).sum())
    rows += [
        "",
        f"Grid masks matched by a hierarchical mask (IoU ≥ {FOUND_IOU}): {agree}/{len(grid_masks)}.",
        "",
        "The projection is encoder time + the mean prompts per oracle scene x this model's measured cost "
        "per prompt. With untrained weights no mask passes the filters, so here the hierarchical "
        "strategy has nothing to skip and decodes its 64 sparse points on top of the full grid.",
    ]
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenes", type=int, default=6)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/EVERYTHING.md"))
    add_checkpoint_args(parser)
    add_runtime_args(parser)
    args = parser.parse_args(argv)
    oracle_rows, oracle_points = oracle_part(args.scenes)
    print("\n".join(oracle_rows), flush=True)
    model_rows = model_part(args, oracle_points)
    print("\n".join(model_rows), flush=True)
    lines = [
        "# Segment everything: hierarchical vs grid",
        "",
        f"Command: `python benchmarks/everything.py {' '.join(sys.argv[1:] if argv is None else argv)}`",
        f"Machine: {platform.processor() or platform.machine()}, {args.threads} threads; "
        f"torch {torch.__version__}.",
        "",
        *oracle_rows,
        *model_rows,
        "",
    ]
    args.out.write_text("\n".join(lines))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
