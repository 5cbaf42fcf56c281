"""Segment everything: hierarchical vs 32x32 grid, decoder work, wall time and objects found.

    python benchmarks/everything.py --checkpoint tinysam-synthetic [--bundle DIR] [--images N]
        [--out benchmarks/EVERYTHING.md]

Part 1 runs both strategies on the oracle scenes (known objects; see ``tinysam_mobile.testing.oracle``).
Part 2 runs both on the full-size model (eager, or ``--bundle``'s runtime) on the first ``--images``
scenes ``tinysam-synthetic`` was trained on (1024 px on their long side, ground truth in
``tinysam_mobile/assets/scenes``): wall time per image (encoder, decoder and post-processing),
ms per decoded prompt all-in, masks kept, and the whole objects found (best mask IoU >= 0.5 and
>= 0.9). Everything is measured in this one run with ``--threads`` threads.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from tinysam_mobile import rle
from tinysam_mobile.assets import SCENE_ANNOTATIONS, SCENE_DIR
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


def scene_truth(count: int) -> list[tuple[str, np.ndarray, list[np.ndarray]]]:
    """The first ``count`` shipped scenes: (name, image, whole-object masks)."""
    coco = json.loads(SCENE_ANNOTATIONS.read_text())
    out = []
    for info in coco["images"][:count]:
        image = np.asarray(Image.open(SCENE_DIR / "images" / info["file_name"]).convert("RGB"))
        masks = [rle.decode(a["segmentation"]) for a in coco["annotations"] if a["image_id"] == info["id"]]
        out.append((info["file_name"], image, masks))
    return out


def model_part(args: argparse.Namespace) -> list[str]:
    predictor = Predictor(runtime_from_args(args))
    totals = {s: {"seconds": 0.0, "points": 0, "masks": 0, "found": 0, "exact": 0} for s in STRATEGIES}
    objects = 0
    scenes = scene_truth(args.images)
    for _name, image, truth in scenes:
        objects += len(truth)
        for strategy in STRATEGIES:
            start = time.perf_counter()
            predictor.set_image(image)
            result = AutoMaskGenerator(predictor, strategy=strategy).generate(image)
            t = totals[strategy]
            t["seconds"] += time.perf_counter() - start
            t["points"] += result.points_decoded
            t["masks"] += len(result)
            best = best_ious(truth, [r["segmentation"] for r in result])
            t["found"] += int((best >= 0.5).sum())
            t["exact"] += int((best >= FOUND_IOU).sum())
    n = len(scenes)
    rows = [
        f"Full-size model ({predictor.runtime.name}, checkpoint {args.checkpoint}) on the first {n} "
        f"shipped scenes ({objects} whole objects); wall time per image includes the encoder.",
        "",
        "| strategy | prompts decoded / image | wall s / image | ms per decoded prompt, all-in "
        f"| masks / image | objects found (IoU ≥ 0.5) | (IoU ≥ {FOUND_IOU}) |",
        "|---|---|---|---|---|---|---|",
    ]
    for strategy, t in totals.items():
        rows.append(
            f"| {strategy} | {t['points'] / n:.0f} | {t['seconds'] / n:.2f} | "
            f"{1000 * t['seconds'] / t['points']:.1f} | {t['masks'] / n:.1f} | {t['found']}/{objects} | "
            f"{t['exact']}/{objects} |"
        )
    ratio = totals["hierarchical"]["seconds"] / totals["grid"]["seconds"]
    rows += ["", f"Hierarchical wall / grid wall: {ratio:.2f}x.", ""]
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenes", type=int, default=6, help="oracle scenes")
    parser.add_argument("--images", type=int, default=8, help="shipped scenes for the model part")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/EVERYTHING.md"))
    add_checkpoint_args(parser)
    add_runtime_args(parser)
    args = parser.parse_args(argv)
    oracle_rows, _ = oracle_part(args.scenes)
    print("\n".join(oracle_rows), flush=True)
    model_rows = model_part(args)
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
