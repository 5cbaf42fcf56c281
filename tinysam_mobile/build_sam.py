"""SAM's front door for TinySAM: ``build_sam(checkpoint)`` and ``sam_model_registry``.

``sam_model_registry["vit_t"](checkpoint="tinysam_42.3.pth")`` builds the model and loads the
checkpoint exactly like segment-anything's registry (MobileSAM's key for this architecture is
``vit_t``); ``checkpoint`` also takes the names, URLs and ``untrained[:SEED]`` of
:func:`tinysam_mobile.load_checkpoint`. Without a checkpoint the model keeps PyTorch's default
initialisation, as SAM's does.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from .checkpoints import load_checkpoint
from .modeling import TINYSAM, Sam, build_untrained


def build_sam(checkpoint: str | os.PathLike[str] | None = None) -> Sam:
    """TinySAM (eval mode) with ``checkpoint``'s weights, or untrained when it is ``None``."""
    if checkpoint is None:
        return build_untrained(TINYSAM)
    return load_checkpoint(os.fspath(checkpoint), TINYSAM).model


sam_model_registry: dict[str, Callable[..., Sam]] = {"default": build_sam, "vit_t": build_sam}
