"""Export wrappers with a static-shape I/O contract shared by every target and the apps.

``EncoderModule``: ``image`` float32 ``1 x 3 x 1024 x 1024`` (normalized, zero-padded) ->
``image_embeddings`` ``1 x C x 64 x 64``.
``DecoderModule``: ``image_embeddings``, ``point_coords`` ``1 x N x 2`` (X, Y in the 1024 frame),
``point_labels`` ``1 x N`` (float: 1 fg, 0 bg, 2/3 box corners, -1 padding), ``mask_input``
``1 x 1 x 256 x 256`` logits, ``has_mask_input`` ``1`` (1.0 uses ``mask_input``, 0.0 ignores it) ->
``low_res_masks`` ``1 x 3 x 256 x 256`` (mask tokens 1..3) and ``iou_predictions`` ``1 x 3``.
``N`` is fixed per artifact (default 8) and declared in the manifest.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass

import torch
from torch import nn

from .modeling import Sam
from .modeling.tiny_vit import TinyViTBlock
from .transforms import IMG_SIZE, LOW_RES_SIZE

DEFAULT_MAX_POINTS = 8
ENCODER_INPUTS = ("image",)
ENCODER_OUTPUTS = ("image_embeddings",)
DECODER_INPUTS = ("image_embeddings", "point_coords", "point_labels", "mask_input", "has_mask_input")
DECODER_OUTPUTS = ("low_res_masks", "iou_predictions")


@dataclass(frozen=True)
class TensorSpec:
    """One named program input or output."""

    name: str
    shape: tuple[int, ...]
    dtype: str = "float32"


@dataclass(frozen=True)
class IOContract:
    """Names, shapes and dtypes of the encoder and decoder programs (read by the apps)."""

    encoder_inputs: tuple[TensorSpec, ...]
    encoder_outputs: tuple[TensorSpec, ...]
    decoder_inputs: tuple[TensorSpec, ...]
    decoder_outputs: tuple[TensorSpec, ...]
    max_points: int

    def to_dict(self) -> dict:
        return asdict(self)


def io_contract(model: Sam, max_points: int = DEFAULT_MAX_POINTS) -> IOContract:
    """The I/O contract of ``model``'s export wrappers."""
    dim = model.config.decoder.embed_dim
    emb = model.image_encoder.embedding_size
    embeddings = (1, dim, emb, emb)
    mask = (1, 1, LOW_RES_SIZE, LOW_RES_SIZE)
    decoder_shapes = (embeddings, (1, max_points, 2), (1, max_points), mask, (1,))
    return IOContract(
        encoder_inputs=(TensorSpec(ENCODER_INPUTS[0], (1, 3, IMG_SIZE, IMG_SIZE)),),
        encoder_outputs=(TensorSpec(ENCODER_OUTPUTS[0], embeddings),),
        decoder_inputs=tuple(TensorSpec(n, s) for n, s in zip(DECODER_INPUTS, decoder_shapes, strict=True)),
        decoder_outputs=(
            TensorSpec(DECODER_OUTPUTS[0], (1, 3, LOW_RES_SIZE, LOW_RES_SIZE)),
            TensorSpec(DECODER_OUTPUTS[1], (1, 3)),
        ),
        max_points=max_points,
    )


class EncoderModule(nn.Module):
    """``image`` -> ``image_embeddings`` (see the module docstring)."""

    def __init__(self, model: Sam) -> None:
        super().__init__()
        self.image_encoder = model.image_encoder

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.image_encoder(image)


class DecoderModule(nn.Module):
    """Prompt encoder + mask decoder with the fixed-N contract (see the module docstring).

    The dense positional encoding is precomputed into a buffer, so the program holds no
    grid-building ops.
    """

    def __init__(self, model: Sam) -> None:
        super().__init__()
        self.prompt_encoder = model.prompt_encoder
        self.mask_decoder = model.mask_decoder
        with torch.no_grad():
            self.register_buffer("dense_pe", model.prompt_encoder.get_dense_pe().clone())

    def forward(
        self,
        image_embeddings: torch.Tensor,
        point_coords: torch.Tensor,
        point_labels: torch.Tensor,
        mask_input: torch.Tensor,
        has_mask_input: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        sparse = self.prompt_encoder.embed_points(point_coords, point_labels)
        has_mask = has_mask_input.reshape(1, 1, 1, 1)
        no_mask = self.prompt_encoder.no_mask_embed.weight.reshape(1, -1, 1, 1)
        dense = has_mask * self.prompt_encoder.embed_mask(mask_input) + (1.0 - has_mask) * no_mask
        return self.mask_decoder(image_embeddings, self.dense_pe, sparse, dense)


def with_shifted_padding(model: Sam) -> Sam:
    """A copy of ``model`` whose TinyViT blocks fill window padding by shifting
    (``TinyViTBlock.pad_by_shift``): converters that constant-fold would otherwise store a
    grid-sized pad constant per block (74 MB instead of 28 MB for LiteRT's fp32 encoder, 78 MB
    instead of 23 MB for Core ML's)."""
    model = copy.deepcopy(model).eval()
    for block in model.modules():
        if isinstance(block, TinyViTBlock):
            block.pad_by_shift = True
    return model


def encoder_example_inputs() -> tuple[torch.Tensor]:
    """Sample inputs for tracing the encoder."""
    return (torch.zeros(1, 3, IMG_SIZE, IMG_SIZE),)


def decoder_example_inputs(model: Sam, max_points: int = DEFAULT_MAX_POINTS) -> tuple[torch.Tensor, ...]:
    """Sample inputs for tracing the decoder (one foreground point, the rest padding)."""
    spec = io_contract(model, max_points)
    emb, coords, _, mask, has_mask = (torch.zeros(s.shape) for s in spec.decoder_inputs)
    labels = torch.full((1, max_points), -1.0)
    labels[0, 0] = 1.0
    coords[0, 0] = torch.tensor([512.0, 512.0])
    return emb, coords, labels, mask, has_mask
