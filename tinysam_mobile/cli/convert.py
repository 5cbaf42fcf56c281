"""``python -m tinysam_mobile.convert --target {coreml,executorch,tflite} [--recipe NAME] [--out DIR]``

Converts TinySAM into an on-device bundle (encoder + decoder programs and manifest.json), checks
mask parity of the artifacts on their real runtime against the float reference, and writes the
bundle atomically. ``--list-recipes`` shows what each target offers. The converters' own output
is kept out of the way (shown with ``--verbose``, or its tail when a conversion fails).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .. import console
from ..contract import DEFAULT_MAX_POINTS
from ..targets import TARGETS, default_bundle_dir
from ..toolchain.build import ParityFailure, build_bundle, resolve_recipe
from ..toolchain.calibration import check_photo_dir
from ..toolchain.converters import get_backend
from ..toolchain.destination import check_destination, conversion_inputs
from ..toolchain.recipes import Calibration, RecipeError, list_recipes
from .common import add_checkpoint_args, add_verbose_arg, load_from_args

MAX_POINTS = 64  # decoder slots; each costs decoder time on every call


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tinysam_mobile.convert", description=__doc__.split("\n\n")[1]
    )
    parser.add_argument(
        "--target",
        choices=sorted(TARGETS),
        help="conversion target (default executorch; with --list-recipes, omit it to list every target)",
    )
    parser.add_argument(
        "--recipe",
        help="recipe name (see --list-recipes) or a .toml file "
        f"(default: {', '.join(f'{t.name} {t.default_recipe}' for t in TARGETS.values())})",
    )
    parser.add_argument(
        "--out", type=Path, help="bundle directory to write, replaced on success (default: out/TARGET-RECIPE)"
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace --out if it holds a bundle from an earlier run"
    )
    parser.add_argument("--list-recipes", action="store_true", help="list the recipes and exit")
    parser.add_argument("--no-parity", action="store_true", help="skip the parity check")
    parser.add_argument(
        "--max-points",
        type=int,
        default=DEFAULT_MAX_POINTS,
        help=f"fixed decoder point count N, box corners and padding included (default {DEFAULT_MAX_POINTS})",
    )
    parser.add_argument("--threads", type=int, default=2, help="runtime threads for parity (default 2)")
    parser.add_argument("--calibration-dir", type=Path, help="photos for int8 calibration (default: bundled)")
    add_checkpoint_args(parser)
    add_verbose_arg(parser)
    return parser


def print_recipes(targets: list[str]) -> None:
    for name in targets:
        backend = get_backend(name)
        print(f"{name}:", file=console.out())
        for recipe_name in list_recipes(name):
            recipe = backend.load_recipe(recipe_name)
            aliases = f" (also: {', '.join(recipe.aliases)})" if recipe.aliases else ""
            default = " [default]" if recipe_name == backend.target.default_recipe else ""
            print(f"  {recipe_name:16s} {recipe.description}{aliases}{default}", file=console.out())


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not 3 <= args.max_points <= MAX_POINTS:
        parser.error(f"--max-points must be 3 (two box corners and one point) to {MAX_POINTS}")
    if args.threads < 1:
        parser.error(f"--threads must be at least 1, got {args.threads}")
    try:
        with console.quiet(args.verbose, expected=(RecipeError, ParityFailure)):
            return _run(args)
    except (RecipeError, ParityFailure, RuntimeError, ValueError, OSError) as exc:  # OSError: disk, rights
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace) -> int:
    if args.list_recipes:
        print_recipes([args.target] if args.target else sorted(TARGETS))
        return 0
    args.target = args.target or "executorch"
    start = time.perf_counter()

    def progress(message: str) -> None:
        print(f"[{time.perf_counter() - start:6.1f}s] {message}", file=console.out(), flush=True)

    # fail on a bad recipe, output or calibration folder before loading weights
    recipe = resolve_recipe(args.target, args.recipe)
    args.recipe = args.recipe or recipe.name
    args.out = args.out or Path(default_bundle_dir(args.target, recipe.name))
    inputs = conversion_inputs(args.checkpoint, args.calibration_dir, args.recipe)
    check_destination(args.out, inputs, overwrite=args.overwrite)
    if args.calibration_dir is not None:
        check_photo_dir((recipe.calibration or Calibration()).images, args.calibration_dir)
    loaded = load_from_args(args)
    result = build_bundle(
        loaded,
        args.target,
        args.recipe,
        args.out,
        max_points=args.max_points,
        parity=not args.no_parity,
        num_threads=args.threads,
        calibration_dir=args.calibration_dir,
        progress=progress,
        overwrite=args.overwrite,
    )
    artifacts = result.manifest["artifacts"]
    sizes = ", ".join(f"{a['file']} {a['bytes'] / 1e6:.1f} MB" for a in artifacts.values())
    if result.report is not None:
        s = result.report.summary
        verdict = "passed" if result.report.judged else "measured (untrained weights: not judged)"
        progress(
            f"parity {verdict}: logit max-abs {s['max_logit_abs']:.3g}, mask IoU >= {s['min_mask_iou']:.4f} "
            f"(mean {s['mean_mask_iou']:.4f}), best-mask agreement {s['mean_best_mask_agreement']:.2f}"
        )
    progress(f"bundle written to {result.bundle_dir} ({sizes})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
