"""``python -m tinysam_mobile.train``: train TinySAM on generated scenes, or distil it from a teacher.

Runs as one process, or under ``torchrun --nproc_per_node K -m tinysam_mobile.train`` as K
DistributedDataParallel ranks (gloo on CPU, nccl on GPU), each on its own scenes; rank 0 writes
``OUT/last.pt`` (resumable with ``--resume``), ``OUT/model.pth`` (official layout) and
``OUT/train.log``. See :mod:`tinysam_mobile.training` for what is trained and how.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..checkpoints import CheckpointError, resolve_path
from ..modeling import CONFIGS
from ..toolchain.training.loop import TrainConfig, Trainer
from ..toolchain.training.losses import MASK_LOSSES
from ..toolchain.training.schedule import parse_resolutions


def parse_pool(text: str) -> tuple[int, ...]:
    """``"8,32,128,0"`` -> ``(8, 32, 128, 0)``: pool sizes in order, 0 (fresh scenes) only last."""
    try:
        stages = tuple(int(x) for x in text.split(","))
    except ValueError:
        raise ValueError(f"expected comma-separated scene counts, got {text!r}") from None
    if min(stages) < 0 or 0 in stages[:-1]:
        raise ValueError(f"scene counts must be positive, 0 (fresh scenes) only last: {text!r}")
    return stages


def build_parser() -> argparse.ArgumentParser:
    d = TrainConfig(out=Path("."))
    p = argparse.ArgumentParser(prog="python -m tinysam_mobile.train", description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True, help="run directory (checkpoints, log)")
    p.add_argument("--config", default=d.config, choices=sorted(CONFIGS), help="model configuration")
    p.add_argument("--steps", type=int, default=d.steps, help=f"optimisation steps (default {d.steps})")
    p.add_argument(
        "--batch-size",
        type=int,
        default=d.batch_size,
        help="images per step and process at the smallest resolution",
    )
    p.add_argument(
        "--prompts", type=int, default=d.prompts, help="prompts per image at the smallest resolution"
    )
    p.add_argument(
        "--resolution",
        default=d.resolution,
        help="input sizes, SIZE[:FRACTION],... e.g. 256:0.85,512:0.12,1024 (default %(default)s)",
    )
    p.add_argument("--lr", type=float, default=d.lr, help="peak AdamW learning rate")
    p.add_argument("--weight-decay", type=float, default=d.weight_decay)
    p.add_argument("--warmup", type=int, default=d.warmup, help="linear warmup steps before the cosine decay")
    p.add_argument("--clip", type=float, default=d.clip, help="gradient-norm clipping")
    p.add_argument(
        "--max-rounds", type=int, default=d.max_rounds, help="most correction-click rounds per step"
    )
    p.add_argument(
        "--crop-prob", type=float, default=d.crop_prob, help="share of native-scale crops below 1024"
    )
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--threads", type=int, default=d.threads, help="CPU threads per process")
    p.add_argument("--save-every", type=float, default=d.save_every, help="minutes between checkpoints")
    p.add_argument(
        "--eval-every", type=float, default=d.eval_every, help="minutes between evaluations (0: none)"
    )
    p.add_argument("--eval-objects", type=int, default=d.eval_objects, help="held-out objects per evaluation")
    p.add_argument("--log-every", type=int, default=d.log_every, help="steps per log line")
    p.add_argument("--init", help="start from this checkpoint instead of from scratch")
    p.add_argument("--teacher", help="distil from this checkpoint (same --config)")
    p.add_argument(
        "--distill-weights", default="1,1,1", help="alpha,beta,gamma: embedding, token and output L1 weights"
    )
    p.add_argument(
        "--pool",
        default=",".join(map(str, d.pool)),
        help="scene pool stages, e.g. 8,32,128,0: train on the first N scenes of the fixed pool, "
        "grow to the next stage once fitted; 0 = fresh scenes every step (default %(default)s)",
    )
    p.add_argument(
        "--grow-at",
        type=float,
        default=d.grow_at,
        help="point and box mIoU on the current pool (at the phase's size) that starts the next stage",
    )
    p.add_argument("--mask-loss", default=d.mask_loss, choices=MASK_LOSSES, help="mask loss (with dice)")
    p.add_argument(
        "--no-locality-init",
        action="store_true",
        help="from scratch, keep the decoder's default initialisation (no prompt-locality start)",
    )
    p.add_argument("--resume", action="store_true", help="continue OUT/last.pt")
    return p


def config_from_args(argv: list[str] | None = None) -> TrainConfig:
    """Parse and validate the command line; errors exit with a message naming the option."""
    parser = build_parser()
    a = parser.parse_args(argv)
    for name in ("steps", "batch_size", "prompts", "threads", "eval_objects", "log_every"):
        if getattr(a, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got {getattr(a, name)}")
    for name in ("lr", "clip", "save_every"):
        if getattr(a, name) <= 0:
            parser.error(f"--{name.replace('_', '-')} must be positive, got {getattr(a, name)}")
    if a.warmup < 0 or a.max_rounds < 0 or a.eval_every < 0 or a.weight_decay < 0:
        parser.error("--warmup, --max-rounds, --eval-every and --weight-decay cannot be negative")
    if not 0 <= a.crop_prob <= 1:
        parser.error(f"--crop-prob must be in [0, 1], got {a.crop_prob}")
    try:
        parse_resolutions(a.resolution)
    except ValueError as exc:
        parser.error(f"--resolution: {exc}")
    try:
        pool = parse_pool(a.pool)
    except ValueError as exc:
        parser.error(f"--pool: {exc}")
    if not 0 < a.grow_at <= 1:
        parser.error(f"--grow-at must be in (0, 1], got {a.grow_at}")
    try:
        weights = tuple(float(x) for x in a.distill_weights.split(","))
    except ValueError:
        weights = ()
    if len(weights) != 3 or min(weights) < 0:
        parser.error(f"--distill-weights must be three non-negative numbers, got {a.distill_weights!r}")
    for option in ("teacher", "init"):
        spec = getattr(a, option)
        if spec and not spec.startswith("untrained"):  # untrained[:SEED] needs no file
            try:
                resolve_path(spec)
            except CheckpointError as exc:
                parser.error(f"--{option}: {exc}")
    last = a.out / "last.pt"
    if a.resume and not last.is_file():
        parser.error(f"--resume: {last} does not exist")
    if not a.resume and last.exists():
        parser.error(f"{a.out} already holds a run ({last}); pass --resume or choose another --out")
    return TrainConfig(
        out=a.out,
        config=a.config,
        steps=a.steps,
        batch_size=a.batch_size,
        prompts=a.prompts,
        resolution=a.resolution,
        lr=a.lr,
        weight_decay=a.weight_decay,
        warmup=a.warmup,
        clip=a.clip,
        max_rounds=a.max_rounds,
        crop_prob=a.crop_prob,
        seed=a.seed,
        threads=a.threads,
        save_every=a.save_every,
        eval_every=a.eval_every,
        eval_objects=a.eval_objects,
        log_every=a.log_every,
        init=a.init,
        teacher=a.teacher,
        distill_weights=weights,  # type: ignore[arg-type]
        pool=pool,
        grow_at=a.grow_at,
        mask_loss=a.mask_loss,
        locality_init=not a.no_locality_init,
        resume=a.resume,
    )


def main(argv: list[str] | None = None) -> int:
    cfg = config_from_args(argv)
    try:
        Trainer(cfg).run()
    except CheckpointError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
