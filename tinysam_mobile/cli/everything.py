"""``python -m tinysam_mobile.everything IMAGE --strategy hierarchical --out overlay.png --json m.json``:
every mask of a photo as a colour overlay (and COCO RLE records), over the float model or a bundle."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from .. import console, rle
from ..everything import STRATEGIES, AutoMaskGenerator, EverythingConfig
from ..fs import write_atomic
from ..visualize import overlay_masks
from .common import ProgressBar, add_checkpoint_args, add_runtime_args, add_verbose_arg, runtime_from_args


def build_parser() -> argparse.ArgumentParser:
    defaults = EverythingConfig()
    parser = argparse.ArgumentParser(
        prog="python -m tinysam_mobile.everything",
        description="Segment everything in a photo; write a colour overlay (and optionally COCO RLE JSON).",
    )
    parser.add_argument("image", type=Path, help="input photo (any format PIL reads)")
    parser.add_argument("--strategy", choices=STRATEGIES, default="hierarchical")
    parser.add_argument("--out", type=Path, required=True, help="overlay PNG to write")
    parser.add_argument("--json", type=Path, help="also write the masks as COCO RLE records to this file")
    for name, value in vars(defaults).items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value, metavar="V")
    add_checkpoint_args(parser)
    add_runtime_args(parser)
    add_verbose_arg(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = EverythingConfig(**{name: getattr(args, name) for name in vars(EverythingConfig())})
    except ValueError as exc:
        sys.exit(f"error: {exc}")
    try:
        image = np.asarray(Image.open(args.image).convert("RGB"))
    except (OSError, UnidentifiedImageError) as exc:
        sys.exit(f"error: cannot read image {args.image}: {exc}")
    with console.quiet(args.verbose):
        generator = AutoMaskGenerator(runtime_from_args(args), config, args.strategy, "coco_rle")
        start = time.perf_counter()
        with ProgressBar("decoding prompts") as bar:
            result = generator.generate(image, progress=bar.update)
    seconds = time.perf_counter() - start
    masks = [rle.decode(r["segmentation"]) for r in result]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    overlay_masks(image, masks).save(args.out)
    if args.json is not None:
        payload = {
            "image": str(args.image),
            "size": list(image.shape[:2]),
            "strategy": result.strategy,
            "points_decoded": result.points_decoded,
            "annotations": list(result),
        }
        write_atomic(args.json, json.dumps(payload))
    print(
        f"{len(result)} masks ({result.strategy}: {result.points_decoded} prompts decoded, "
        f"{result.points_skipped} skipped) in {seconds:.2f} s -> {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())


if __name__ == "__main__":
    sys.exit(main())
