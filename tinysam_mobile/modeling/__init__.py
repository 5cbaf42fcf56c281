"""The float reference TinySAM model (state-dict compatible with the official checkpoints)."""

from __future__ import annotations

import torch

from .configs import CONFIGS, TINY, TINYSAM, SamConfig, get_config
from .sam import Sam

__all__ = ["CONFIGS", "TINY", "TINYSAM", "Sam", "SamConfig", "build_untrained", "get_config"]


def build_untrained(config: SamConfig | str = TINYSAM, seed: int | None = None) -> Sam:
    """An untrained model in eval mode; with ``seed``, its weights are reproducible (for
    structure-only tests and offline runs: see :func:`tinysam_mobile.build_sam` to load weights).

    When seeded, the tensors PyTorch initialises to constants (BatchNorm statistics, norm
    affines, biases, attention biases) are randomised too, so an untrained model exercises every
    parameter numerically. The global RNG state is left untouched.
    """
    cfg = get_config(config) if isinstance(config, str) else config
    if seed is None:
        return Sam(cfg).eval()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Sam(cfg)
        _randomize_constants(model)
    return model.eval()


@torch.no_grad()
def _randomize_constants(model: Sam) -> None:
    """Replace constant-initialised float tensors by small random values around their default."""
    for name, tensor in model.state_dict().items():
        if not tensor.is_floating_point():
            continue
        leaf = name.rsplit(".", 1)[-1]
        if leaf == "running_var":
            tensor.uniform_(0.5, 1.5)
        elif leaf in ("running_mean", "bias"):
            tensor.normal_(0.0, 0.05)
        elif leaf == "attention_biases":
            tensor.normal_(0.0, 0.5)
        elif leaf == "weight" and tensor.ndim == 1:  # BatchNorm / LayerNorm scales
            tensor.uniform_(0.8, 1.2)
