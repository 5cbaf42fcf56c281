"""Ship ``tinysam-synthetic``: its fp16 weights from a training run, and the scenes it was fitted to.

    .venv/bin/python scripts/export_synthetic.py runs/NAME/last.pt [--out PATH] [--scenes DIR]
    .venv/bin/python scripts/export_synthetic.py --scenes-only

``RUN_CKPT`` is a training checkpoint (``last.pt``) or a float state dict (``model.pth``) of the
full TinySAM config. The weights go to ``tinysam_mobile/assets/weights/`` by default; register the
printed sha256 in ``BUNDLED_CHECKPOINTS`` (``tinysam_mobile/checkpoints.py``) to ship them. The
scenes go to ``tinysam_mobile/assets/scenes/`` (``images/scene_K.jpg``: the training pool's JPEG
files byte for byte, and ``annotations.json``: their whole objects as COCO instances), written the
same way every time.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tinysam_mobile.assets import SCENE_DIR
from tinysam_mobile.checkpoints import (
    BUNDLED_CHECKPOINTS,
    CheckpointError,
    load_checkpoint,
    save_half_precision,
)
from tinysam_mobile.toolchain.evaluation import write_coco
from tinysam_mobile.toolchain.training.pool import MIN_OBJECT_AREA, TIER1_SCENES, pool_scene

MAX_BYTES = 21_000_000


def write_scenes(out_dir: Path) -> Path:
    """The first :data:`TIER1_SCENES` pool scenes and their whole objects, as COCO data."""
    scenes = (
        (f"scene_{k}.jpg", pool_scene(k).jpeg, pool_scene(k).wholes(MIN_OBJECT_AREA))
        for k in range(TIER1_SCENES)
    )
    return write_coco(scenes, out_dir)


def main(argv: list[str] | None = None) -> int:
    bundled = BUNDLED_CHECKPOINTS["tinysam-synthetic"]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_ckpt", nargs="?", help="training checkpoint (last.pt) or float state dict")
    parser.add_argument(
        "--out", type=Path, default=bundled.path, help=f"weights file (default {bundled.path})"
    )
    parser.add_argument("--scenes", type=Path, default=SCENE_DIR, help=f"scenes folder (default {SCENE_DIR})")
    parser.add_argument("--scenes-only", action="store_true", help="write the scenes only")
    args = parser.parse_args(argv)
    if not args.scenes_only and not args.run_ckpt:
        parser.error("give a training checkpoint, or --scenes-only")
    path = write_scenes(args.scenes)
    print(f"wrote {TIER1_SCENES} scenes and {path}")
    if args.scenes_only:
        return 0
    try:
        model = load_checkpoint(args.run_ckpt).model
        sha256 = save_half_precision(model, args.out)
    except (CheckpointError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    size = args.out.stat().st_size
    print(f"wrote {args.out} ({size / 1e6:.1f} MB)")
    print(f"sha256 {sha256}")
    if size > MAX_BYTES:
        print(
            f"error: {size} bytes is over the {MAX_BYTES} byte budget for a bundled checkpoint",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
