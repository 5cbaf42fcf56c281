"""``python -m tinysam_mobile.segment IMAGE --point X,Y[,LABEL] [--box X0,Y0,X1,Y1] --out overlay.png``

Segments one object with the float reference model (or a converted bundle, ``--bundle DIR``) and
writes the best mask as an overlay PNG.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from .. import console
from ..predictor import Predictor
from ..visualize import overlay_mask
from .common import add_checkpoint_args, add_runtime_args, add_verbose_arg, runtime_from_args


def _numbers(text: str, count: tuple[int, ...], what: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{what} must be comma-separated numbers, got {text!r}") from None
    if len(values) not in count:
        raise argparse.ArgumentTypeError(f"{what} needs {' or '.join(map(str, count))} values, got {text!r}")
    return values


def parse_point(text: str) -> tuple[float, float, int]:
    """``X,Y`` or ``X,Y,LABEL`` (1 foreground, default; 0 background)."""
    values = _numbers(text, (2, 3), "--point")
    label = int(values[2]) if len(values) == 3 else 1
    if label not in (0, 1):
        raise argparse.ArgumentTypeError(f"--point label must be 1 or 0, got {text!r}")
    return values[0], values[1], label


def parse_box(text: str) -> list[float]:
    """``X0,Y0,X1,Y1`` in pixels."""
    box = _numbers(text, (4,), "--box")
    if box[2] <= box[0] or box[3] <= box[1]:
        raise argparse.ArgumentTypeError(f"--box must satisfy X0 < X1 and Y0 < Y1, got {text!r}")
    return box


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tinysam_mobile.segment", description=__doc__.split("\n\n")[1]
    )
    parser.add_argument("image", type=Path, help="input photo (any format PIL reads)")
    parser.add_argument("--point", type=parse_point, action="append", default=[], metavar="X,Y[,LABEL]")
    parser.add_argument("--box", type=parse_box, metavar="X0,Y0,X1,Y1")
    parser.add_argument("--out", type=Path, required=True, help="overlay PNG to write")
    add_checkpoint_args(parser)
    add_runtime_args(parser)
    add_verbose_arg(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.point and args.box is None:
        sys.exit("error: give at least one --point or a --box")
    try:
        image = np.asarray(Image.open(args.image).convert("RGB"))
    except (OSError, UnidentifiedImageError) as exc:
        sys.exit(f"error: cannot read image {args.image}: {exc}")
    with console.quiet(args.verbose):
        predictor = Predictor(runtime_from_args(args))
        start = time.perf_counter()
        predictor.set_image(image)
        encoded = time.perf_counter()
        points = np.array([p[:2] for p in args.point]) if args.point else None
        labels = np.array([p[2] for p in args.point]) if args.point else None
        box = np.array(args.box) if args.box is not None else None
        masks, iou, _ = predictor.predict(points, labels, box, multimask_output=False)
        decoded = time.perf_counter()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    overlay_mask(image, masks[0], points, labels, box).save(args.out)
    print(
        f"encode {encoded - start:.2f} s, decode {1000 * (decoded - encoded):.0f} ms; "
        f"best mask: predicted IoU {iou[0]:.3f}, {int(masks[0].sum())} px -> {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
