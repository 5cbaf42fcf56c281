"""Export wrappers with the static-shape I/O contract of :mod:`tinysam_mobile.contract`.

``EncoderModule``: ``image`` -> ``image_embeddings``. ``DecoderModule`` (from
:mod:`.decoder_program`): ``B`` prompts of ``N`` slots against one shared embedding -> ``B x 3``
masks and IoUs; unused slots (label -2) are masked out of attention inside the program (no extra
input).
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from .. import contract
from ..contract import DEFAULT_MAX_POINTS, IMG_SIZE, LABEL_FOREGROUND, LABEL_UNUSED, IOContract
from ..modeling import Sam
from ..modeling.tiny_vit import TinyViTBlock
from .decoder_program import DecoderModule

__all__ = [
    "DecoderModule",
    "EncoderModule",
    "decoder_example_inputs",
    "encoder_example_inputs",
    "io_contract",
    "with_shifted_padding",
]


def io_contract(model: Sam, max_points: int = DEFAULT_MAX_POINTS, decoder_batch: int = 1) -> IOContract:
    """The I/O contract of ``model``'s export wrappers."""
    return contract.io_contract(
        model.config.decoder.embed_dim, model.image_encoder.embedding_size, max_points, decoder_batch
    )


class EncoderModule(nn.Module):
    """``image`` -> ``image_embeddings`` (see :mod:`tinysam_mobile.contract`)."""

    def __init__(self, model: Sam) -> None:
        super().__init__()
        self.image_encoder = model.image_encoder

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.image_encoder(image)


def with_shifted_padding(model: Sam) -> Sam:
    """A copy of ``model`` whose TinyViT blocks fill window padding by shifting
    (``TinyViTBlock.pad_by_shift``): converters that constant-fold would otherwise store a
    grid-sized pad constant per block."""
    model = copy.deepcopy(model).eval()
    for block in model.modules():
        if isinstance(block, TinyViTBlock):
            block.pad_by_shift = True
    return model


def encoder_example_inputs() -> tuple[torch.Tensor]:
    """Sample inputs for tracing the encoder."""
    return (torch.zeros(1, 3, IMG_SIZE, IMG_SIZE),)


def decoder_example_inputs(
    model: Sam, max_points: int = DEFAULT_MAX_POINTS, batch: int = 1
) -> tuple[torch.Tensor, ...]:
    """Sample inputs for tracing the decoder (one foreground point per prompt, the rest unused)."""
    spec = io_contract(model, max_points, batch)
    emb, coords, _, mask, has_mask = (torch.zeros(s.shape) for s in spec.decoder_inputs)
    labels = torch.full((batch, max_points), float(LABEL_UNUSED))
    labels[:, 0] = float(LABEL_FOREGROUND)
    coords[:, 0] = torch.tensor([512.0, 512.0])
    return emb, coords, labels, mask, has_mask
