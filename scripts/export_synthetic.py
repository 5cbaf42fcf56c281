"""Write the bundled ``synthetic`` checkpoint (fp16) from a training run and print its sha256.

    .venv/bin/python scripts/export_synthetic.py runs/NAME/last.pt [--out PATH]

``RUN_CKPT`` is a training checkpoint (``last.pt``) or a float state dict (``model.pth``) of the
full TinySAM config. The file goes to ``tinysam_mobile/assets/weights/`` by default; register the
printed sha256 in ``BUNDLED_CHECKPOINTS`` (``tinysam_mobile/checkpoints.py``) to ship it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tinysam_mobile.checkpoints import (
    BUNDLED_CHECKPOINTS,
    CheckpointError,
    load_checkpoint,
    save_half_precision,
)

MAX_BYTES = 21_000_000


def main(argv: list[str] | None = None) -> int:
    bundled = BUNDLED_CHECKPOINTS["synthetic"]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_ckpt", help="training checkpoint (last.pt) or float state dict")
    parser.add_argument(
        "--out", type=Path, default=bundled.path, help=f"output file (default {bundled.path})"
    )
    args = parser.parse_args(argv)
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
