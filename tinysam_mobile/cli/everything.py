"""``python -m tinysam_mobile.everything IMAGE --strategy hierarchical --out overlay.png --json m.json``:
every mask of a photo as a colour overlay (and COCO RLE records), over the float model or a bundle."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from .. import console, rle
from ..automatic_mask_generator import STRATEGIES, AutoMaskGenerator, EverythingConfig
from ..images import load_image
from ..outputs import check_distinct, check_output_file, image_writer, write_together
from ..predictor import BrokenModelError
from ..visualize import overlay_masks
from .common import (
    ProgressBar,
    add_checkpoint_args,
    add_runtime_args,
    add_verbose_arg,
    model_inputs,
    runtime_from_args,
)


def build_parser() -> argparse.ArgumentParser:
    defaults = EverythingConfig()
    parser = argparse.ArgumentParser(
        prog="python -m tinysam_mobile.everything",
        description="Segment everything in a photo; write a colour overlay (and optionally COCO RLE JSON).",
    )
    parser.add_argument("image", type=Path, help="input photo (any format PIL reads)")
    parser.add_argument("--strategy", choices=STRATEGIES, default="hierarchical")
    parser.add_argument("--out", type=Path, required=True, help="overlay image to write (.png, .jpg, ...)")
    parser.add_argument("--json", type=Path, help="also write the masks as COCO RLE records to this file")
    parser.add_argument("--overwrite", action="store_true", help="replace --out / --json if they exist")
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
        inputs = [args.image, *model_inputs(args)]
        check_distinct({"--out": args.out, "--json": args.json})
        check_output_file(args.out, "--out", inputs, overwrite=args.overwrite, image=True)
        if args.json is not None:
            check_output_file(args.json, "--json", inputs, overwrite=args.overwrite)
        photo = load_image(args.image)
    except ValueError as exc:  # the configuration, an output path or the image
        sys.exit(f"error: {exc}")
    if photo.reduced:
        (h, w), (oh, ow) = photo.size, photo.original_size
        print(f"note: {args.image} is {ow}x{oh}; decoded at {w}x{h} to bound memory, masks are that size")
    with console.quiet(args.verbose):
        generator = AutoMaskGenerator(runtime_from_args(args), config, args.strategy, "coco_rle")
        start = time.perf_counter()
        try:
            with ProgressBar("decoding prompts") as bar:
                result = generator.generate(photo.pixels, progress=bar.update)
        except BrokenModelError as exc:
            sys.exit(f"error: {exc}")
    seconds = time.perf_counter() - start
    largest_first = sorted(result, key=lambda r: -r["area"])
    overlay = overlay_masks(photo.pixels, (rle.decode(r["segmentation"]) for r in largest_first))
    writers = {args.out: image_writer(overlay, args.out)}
    if args.json is not None:
        payload = {
            "image": str(args.image),
            "size": list(photo.size),
            "original_size": list(photo.original_size),
            "strategy": result.strategy,
            "points_decoded": result.points_decoded,
            "annotations": list(result),
        }
        writers[args.json] = lambda partial: partial.write_text(json.dumps(payload))
    write_together(writers)
    print(
        f"{len(result)} masks ({result.strategy}: {result.points_decoded} prompts decoded, "
        f"{result.points_skipped} skipped) in {seconds:.2f} s -> {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
