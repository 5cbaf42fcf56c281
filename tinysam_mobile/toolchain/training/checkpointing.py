"""Resumable training state: plain tensors and containers, readable with ``weights_only=True``.

The file is a dict ``{"format", "config", "model", "optimizer", "step", "rng", "args", "elapsed",
"pool_stage"}``;
``model`` is a state dict in the official key layout, so
:func:`tinysam_mobile.checkpoints.load_checkpoint` also loads the file as a model. It is written
to a temporary file and renamed, so a crash never leaves a half-written checkpoint.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

FORMAT = "tinysam-mobile-train/1"


@dataclass
class TrainState:
    """Everything needed to continue a run bit-identically at ``step``."""

    config: str
    model: dict[str, torch.Tensor]
    optimizer: dict[str, Any]
    step: int
    rng: dict[str, torch.Tensor]
    args: dict[str, Any]
    elapsed: float
    pool_stage: int = 0


def save_state(state: TrainState, path: Path) -> None:
    """Write ``state`` to ``path`` atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": FORMAT, **state.__dict__}
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_state(path: Path) -> TrainState:
    """Read a training checkpoint (``weights_only=True``); ``ValueError`` if it is not one."""
    payload = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"{path} is not a training checkpoint of this tool ({FORMAT})")
    payload.pop("format")
    return TrainState(**payload)
