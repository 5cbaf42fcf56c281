"""``python -m tinysam_mobile.evaluate``: quality against ground truth, for a checkpoint and bundles.

    python -m tinysam_mobile.evaluate run --annotations ANN.json --images DIR \\
        [--checkpoint tinysam-synthetic] [--bundle DIR ...] [--clicks K] [--out REPORT] [--threads 2]
    python -m tinysam_mobile.evaluate make-set OUT_DIR [--objects 200]
    python -m tinysam_mobile.evaluate scenes CHECKPOINT [--objects 100] [--pool K] [--config C]

``run``: SAM's protocol (see :mod:`tinysam_mobile.evaluation`) on COCO instances data, for the
float model of ``--checkpoint`` (the reference, first) and every ``--bundle``; writes
``REPORT.md`` and ``REPORT.json``. ``make-set``: a held-out generated evaluation set (scenes the
training never sees) in COCO format, ``OUT_DIR/images/*.png`` + ``OUT_DIR/annotations.json``.
``scenes``: a training checkpoint's generated-scene mIoU at 1024 (held-out scenes, and with
``--pool`` its first K training-pool scenes) beside the model-free baselines
(:mod:`tinysam_mobile.toolchain.training.evaluation`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from .. import console
from ..bundle import open_bundle
from ..bundle.manifest import read_manifest
from ..checkpoints import CheckpointError, load_checkpoint
from ..modeling import CONFIGS, get_config
from ..predictor import Predictor
from ..runtimes import TorchRuntime
from ..toolchain.evaluation import RuntimeScores, as_json, evaluate, load_coco, markdown, report, write_coco
from .common import ProgressBar, add_checkpoint_args, add_verbose_arg, load_from_args


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tinysam_mobile.evaluate", description=__doc__.split("\n\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="mIoU against ground truth per prompt kind, per runtime")
    run.add_argument("--annotations", type=Path, required=True, help="COCO instances JSON")
    run.add_argument("--images", type=Path, required=True, help="folder of the annotation file's images")
    run.add_argument(
        "--bundle", type=Path, action="append", default=[], help="a converted bundle (repeatable)"
    )
    run.add_argument(
        "--clicks", type=int, default=0, help="correction clicks after the first point (default 0)"
    )
    run.add_argument("--min-area", type=int, default=100, help="skip objects smaller than this (pixels)")
    run.add_argument(
        "--out", type=Path, default=Path("evaluation"), help="report path stem (default evaluation)"
    )
    run.add_argument("--threads", type=int, default=2, help="CPU threads (default 2)")
    add_checkpoint_args(run)
    add_verbose_arg(run)
    make = commands.add_parser("make-set", help="write a held-out generated evaluation set (COCO format)")
    make.add_argument("out_dir", type=Path)
    make.add_argument("--objects", type=int, default=200, help="whole objects to include (default 200)")
    scenes = commands.add_parser("scenes", help="generated-scene mIoU at 1024 of a training checkpoint")
    scenes.add_argument("checkpoint", help="checkpoint file (last.pt, model.pth) or known name")
    scenes.add_argument("--objects", type=int, default=100, help="held-out objects (default 100)")
    scenes.add_argument("--pool", type=int, default=0, help="also score the first K training-pool scenes")
    scenes.add_argument("--threads", type=int, default=2, help="CPU threads (default 2)")
    scenes.add_argument("--config", default="tinysam", choices=sorted(CONFIGS), help="model configuration")
    return parser


def _run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if args.clicks < 0 or args.threads < 1 or args.min_area < 1:
        parser.error("--clicks must be >= 0, --threads and --min-area >= 1")
    for path in (args.annotations, args.images, *args.bundle):
        if not path.exists():
            parser.error(f"{path} does not exist")
    torch.set_num_threads(args.threads)
    with console.quiet(args.verbose):
        results = _evaluate(args)
    summary = report(results)
    table = markdown(summary)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".md").write_text(table)
    args.out.with_suffix(".json").write_text(as_json(summary))
    print(table + f"-> {args.out.with_suffix('.md')}, {args.out.with_suffix('.json')}")
    return 0


def _evaluate(args: argparse.Namespace) -> list[RuntimeScores]:
    loaded = load_from_args(args)
    predictors = {f"float ({args.checkpoint})": Predictor(TorchRuntime(loaded.model))}
    megabytes = {}
    for bundle in args.bundle:
        try:
            manifest = read_manifest(bundle)
            runtime = open_bundle(bundle, args.threads, manifest)
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            sys.exit(f"error: cannot open bundle {bundle}: {exc}")
        name = f"{manifest['target']} {manifest['recipe']['name']}"
        predictors[name] = Predictor(runtime)
        megabytes[name] = sum(a["bytes"] for a in manifest["artifacts"].values()) / 1e6
    with ProgressBar("evaluating objects") as bar:
        return evaluate(
            predictors,
            load_coco(args.annotations, args.images, args.min_area),
            args.clicks,
            progress=lambda n: bar.update(n, n),
            megabytes=megabytes,
        )


def _make_set(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from ..toolchain.training.evaluation import held_out_objects

    if args.objects < 1:
        parser.error("--objects must be at least 1")
    scenes = (
        (f"scene_{i:04d}.png", image, masks)
        for i, (image, masks) in enumerate(held_out_objects(args.objects))
    )
    path = write_coco(scenes, args.out_dir)
    print(f"{args.objects} objects -> {path}")
    return 0


def _scenes(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from ..toolchain.training.evaluation import evaluate as held_out
    from ..toolchain.training.evaluation import evaluate_pool

    if args.objects < 1 or args.threads < 1 or args.pool < 0:
        parser.error("--objects and --threads must be at least 1, --pool at least 0")
    torch.set_num_threads(args.threads)
    try:
        model = load_checkpoint(args.checkpoint, get_config(args.config)).model
    except CheckpointError as exc:
        parser.error(str(exc))
    print(f"held-out @1024, {held_out(model, args.objects).summary()}")
    if args.pool:
        print(f"pool of {args.pool} @1024, {evaluate_pool(model, args.pool).summary()}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    commands = {"run": _run, "make-set": _make_set, "scenes": _scenes}
    return commands[args.command](args, parser)


if __name__ == "__main__":
    sys.exit(main())
