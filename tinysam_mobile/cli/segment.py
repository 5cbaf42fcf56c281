"""``python -m tinysam_mobile.segment IMAGE --point X,Y[,LABEL] [--box X0,Y0,X1,Y1] --out overlay.png``

Segments one object with the float reference model (or a converted bundle, ``--bundle DIR``) and
writes the best mask as an overlay PNG.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from .. import console
from ..images import ImageError, load_image
from ..outputs import OutputError, check_output_file, image_writer, write_together
from ..predictor import BrokenModelError, Predictor
from ..prompt_validation import PromptError, PromptWarning, check_budget, check_prompt
from ..visualize import overlay_mask
from .common import add_checkpoint_args, add_runtime_args, add_verbose_arg, model_inputs, runtime_from_args


def _numbers(text: str, count: tuple[int, ...], what: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{what} must be comma-separated numbers, got {text!r}") from None
    if len(values) not in count:
        raise argparse.ArgumentTypeError(f"{what} needs {' or '.join(map(str, count))} values, got {text!r}")
    return values


def parse_point(text: str) -> tuple[float, float, float]:
    """``X,Y`` or ``X,Y,LABEL`` (1 foreground, default; 0 background); checked by the validator."""
    values = _numbers(text, (2, 3), "--point")
    return values[0], values[1], values[2] if len(values) == 3 else 1.0


def parse_box(text: str) -> list[float]:
    """``X0,Y0,X1,Y1`` in pixels; checked by the validator."""
    return _numbers(text, (4,), "--box")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tinysam_mobile.segment", description=__doc__.split("\n\n")[1]
    )
    parser.add_argument("image", type=Path, help="input photo (any format PIL reads)")
    parser.add_argument("--point", type=parse_point, action="append", default=[], metavar="X,Y[,LABEL]")
    parser.add_argument("--box", type=parse_box, metavar="X0,Y0,X1,Y1")
    parser.add_argument("--out", type=Path, required=True, help="overlay image to write (.png, .jpg, ...)")
    parser.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    add_checkpoint_args(parser)
    add_runtime_args(parser)
    add_verbose_arg(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.point and args.box is None:
        sys.exit("error: give at least one --point or a --box")
    points = np.array([p[:2] for p in args.point]) if args.point else None
    labels = np.array([p[2] for p in args.point]) if args.point else None
    try:
        inputs = [args.image, *model_inputs(args)]
        check_output_file(args.out, "--out", inputs, overwrite=args.overwrite, image=True)
        photo = load_image(args.image)
        prompt = check_prompt(points, labels, args.box, image_size=photo.original_size)
    except (OutputError, ImageError, PromptError) as exc:
        sys.exit(f"error: {exc}")
    for note in prompt.warnings:
        print(f"warning: {note}", file=sys.stderr)
    with console.quiet(args.verbose):
        return _segment(args, photo, prompt, points, labels)


def _segment(args, photo, prompt, points, labels) -> int:
    """Run the model on the checked inputs and write the overlay."""
    runtime = runtime_from_args(args)
    if runtime.max_points is not None:
        try:
            check_budget(prompt, runtime.max_points)
        except PromptError as exc:
            sys.exit(f"error: {exc}")
    if photo.reduced:
        (h, w), (oh, ow) = photo.size, photo.original_size
        print(
            f"note: {args.image} is {ow}x{oh}; decoded at {w}x{h} to bound memory, the overlay is that size",
            file=console.out(),
        )
        points = None if points is None else photo.to_decoded(points)
        box = None if args.box is None else photo.to_decoded(np.reshape(args.box, (2, 2))).ravel()
    else:
        box = None if args.box is None else np.array(args.box)
    predictor = Predictor(runtime)
    start = time.perf_counter()
    predictor.set_image(photo.pixels)
    encoded = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PromptWarning)  # shown above, in the user's coordinates
        try:
            masks, iou, _ = predictor.predict(points, labels, box, multimask_output=False)
        except BrokenModelError as exc:
            sys.exit(f"error: {exc}")
    decoded = time.perf_counter()
    overlay = overlay_mask(photo.pixels, masks[0], points, labels, box)
    write_together({args.out: image_writer(overlay, args.out)})
    print(
        f"encode {encoded - start:.2f} s, decode {1000 * (decoded - encoded):.0f} ms; "
        f"best mask: predicted IoU {iou[0]:.3f}, {int(masks[0].sum())} px -> {args.out}",
        file=console.out(),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
