"""Pieces shared by the command-line tools: model/runtime/verbosity arguments, warnings, a progress bar."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from types import TracebackType

from .. import console
from ..checkpoints import (
    BUNDLED_CHECKPOINTS,
    DEFAULT_CHECKPOINT,
    KNOWN_CHECKPOINTS,
    CheckpointError,
    LoadedCheckpoint,
    load_checkpoint,
)
from ..modeling import CONFIGS, get_config
from ..runtimes import Runtime, TorchRuntime


def add_checkpoint_args(parser: argparse.ArgumentParser) -> None:
    """``--checkpoint`` and ``--model-config`` options."""
    names = ", ".join([*KNOWN_CHECKPOINTS, *BUNDLED_CHECKPOINTS])
    parser.add_argument(
        "--checkpoint",
        default=DEFAULT_CHECKPOINT,
        help=f"file, http(s) URL, known name ({names}) or untrained[:SEED] (default: {DEFAULT_CHECKPOINT})",
    )
    parser.add_argument("--model-config", default="tinysam", choices=sorted(CONFIGS), help=argparse.SUPPRESS)


def add_verbose_arg(parser: argparse.ArgumentParser) -> None:
    """``--verbose``: show third-party output (progress bars, warnings, notes) as it comes."""
    parser.add_argument(
        "--verbose", action="store_true", help="show the converters' and runtimes' own output"
    )


def warn_untrained(source: str) -> None:
    """A loud stderr banner: the model's outputs mean nothing."""
    banner = "!" * 78
    print(
        f"{banner}\n!! UNTRAINED WEIGHTS ({source}): outputs are meaningless, "
        f"for offline runs and tests only.\n{banner}",
        file=console.err(),
    )


def load_from_args(args: argparse.Namespace) -> LoadedCheckpoint:
    """Load the checkpoint named on the command line; exit with a clear message on failure."""
    try:
        loaded = load_checkpoint(args.checkpoint, get_config(args.model_config))
    except CheckpointError as exc:
        sys.exit(f"error: {exc}")
    if loaded.untrained:
        warn_untrained(args.checkpoint)
    else:
        print(f"checkpoint {args.checkpoint} (sha256 {loaded.sha256[:12]}...)", file=console.err())
    if args.checkpoint in BUNDLED_CHECKPOINTS:
        print(f"note: {BUNDLED_CHECKPOINTS[args.checkpoint].description}", file=console.err())
    return loaded


def model_inputs(args: argparse.Namespace) -> list[Path]:
    """The bundle folder and checkpoint file a command reads: no output may be one of them."""
    candidates = [getattr(args, "bundle", None), Path(args.checkpoint)]
    return [Path(p) for p in candidates if p is not None and Path(p).exists()]


def add_runtime_args(parser: argparse.ArgumentParser) -> None:
    """``--bundle`` (run a converted bundle instead of the float model) and ``--threads``."""
    parser.add_argument(
        "--bundle", type=Path, help="bundle directory from tinysam_mobile.convert (default: float model)"
    )
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (default 2)")


def runtime_from_args(args: argparse.Namespace) -> Runtime:
    """The bundle's runtime when ``--bundle`` is given, else the float model of ``--checkpoint``."""
    import torch

    from ..bundle import open_bundle
    from ..bundle.manifest import read_manifest

    if args.threads < 1:
        sys.exit(f"error: --threads must be at least 1, got {args.threads}")
    torch.set_num_threads(args.threads)
    if args.bundle is None:
        return TorchRuntime(load_from_args(args).model)
    try:
        manifest = read_manifest(args.bundle)
        runtime = open_bundle(args.bundle, args.threads, manifest)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        sys.exit(f"error: cannot open bundle {args.bundle}: {exc}")
    if manifest["model"].get("untrained"):
        warn_untrained(f"bundle {args.bundle}")
    return runtime


class ProgressBar:
    """A one-line ``done/total`` bar on the user's stderr (plain lines when it is not a terminal)."""

    WIDTH = 30

    def __init__(self, label: str, stream=None) -> None:
        self.label = label
        self.stream = stream or console.err()
        self.start = time.perf_counter()
        self._last_line = ""

    def update(self, done: int, total: int) -> None:
        filled = self.WIDTH * done // max(total, 1)
        line = (
            f"{self.label} [{'#' * filled}{'.' * (self.WIDTH - filled)}] {done}/{total} "
            f"{time.perf_counter() - self.start:.1f}s"
        )
        if self.stream.isatty():
            self.stream.write("\r" + line)
        elif done == total or line.split("]")[0] != self._last_line.split("]")[0]:
            self.stream.write(line + "\n")
        self._last_line = line
        self.stream.flush()

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.stream.isatty() and self._last_line:
            self.stream.write("\n")
