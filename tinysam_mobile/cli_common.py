"""Pieces shared by the command-line tools: checkpoint arguments and loud warnings."""

from __future__ import annotations

import argparse
import sys

from .checkpoints import (
    DEFAULT_CHECKPOINT,
    KNOWN_CHECKPOINTS,
    CheckpointError,
    LoadedCheckpoint,
    load_checkpoint,
)
from .modeling import CONFIGS, get_config


def add_checkpoint_args(parser: argparse.ArgumentParser) -> None:
    """``--checkpoint`` and ``--model-config`` options."""
    names = ", ".join(KNOWN_CHECKPOINTS)
    parser.add_argument(
        "--checkpoint",
        default=DEFAULT_CHECKPOINT,
        help=f"file, http(s) URL, known name ({names}) or untrained[:SEED] (default: {DEFAULT_CHECKPOINT})",
    )
    parser.add_argument("--model-config", default="tinysam", choices=sorted(CONFIGS), help=argparse.SUPPRESS)


def load_from_args(args: argparse.Namespace) -> LoadedCheckpoint:
    """Load the checkpoint named on the command line; exit with a clear message on failure."""
    try:
        loaded = load_checkpoint(args.checkpoint, get_config(args.model_config))
    except CheckpointError as exc:
        sys.exit(f"error: {exc}")
    if loaded.untrained:
        banner = "!" * 78
        print(
            f"{banner}\n!! UNTRAINED WEIGHTS ({args.checkpoint}): outputs are meaningless, "
            f"for offline runs and tests only.\n{banner}",
            file=sys.stderr,
        )
    else:
        print(f"checkpoint {args.checkpoint} (sha256 {loaded.sha256[:12]}...)", file=sys.stderr)
    return loaded
