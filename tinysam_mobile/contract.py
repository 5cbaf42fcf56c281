"""The I/O contract every artifact, runtime, manifest and app core shares: data only, no torch.

Encoder program: ``image`` float32 ``1 x 3 x 1024 x 1024`` (normalized, zero-padded) ->
``image_embeddings`` ``1 x C x 64 x 64``.

Decoder program, ``B`` prompts per call against one shared embedding:
``image_embeddings`` ``1 x C x 64 x 64``, ``point_coords`` ``B x N x 2`` (X, Y in the 1024 frame),
``point_labels`` ``B x N`` (float, see below), ``mask_input`` ``B x 1 x 256 x 256`` logits,
``has_mask_input`` ``B`` (1.0 uses the prompt's ``mask_input``, 0.0 ignores it) ->
``low_res_masks`` ``B x 3 x 256 x 256`` (mask tokens 1..3) and ``iou_predictions`` ``B x 3``.
``N`` (slots per prompt) is fixed per program; the program takes any ``B`` from 1 to its
``decoder_batch`` (the manifest declares both; shapes are listed with ``B = decoder_batch``).

Labels: 1 foreground, 0 background, 2 / 3 box corners, -1 the official not-a-point token (the
official predictor appends one when points come without a box: it is part of TinySAM's answer),
-2 an unused slot. Unused slots are not tokens: the program masks them out of attention, so an
``N``-slot program fed a ``K``-point prompt answers exactly as TinySAM answers the ``K`` points.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

IMG_SIZE = 1024
LOW_RES_SIZE = 256
PIXEL_MEAN = (123.675, 116.28, 103.53)
PIXEL_STD = (58.395, 57.12, 57.375)
MASK_THRESHOLD = 0.0

LABEL_UNUSED = -2
LABEL_NOT_A_POINT = -1
LABEL_BACKGROUND = 0
LABEL_FOREGROUND = 1
LABEL_BOX_TOP_LEFT = 2
LABEL_BOX_BOTTOM_RIGHT = 3
PROMPT_LABELS = {
    "unused": LABEL_UNUSED,
    "not_a_point": LABEL_NOT_A_POINT,
    "background": LABEL_BACKGROUND,
    "foreground": LABEL_FOREGROUND,
    "box_top_left": LABEL_BOX_TOP_LEFT,
    "box_bottom_right": LABEL_BOX_BOTTOM_RIGHT,
}

DEFAULT_MAX_POINTS = 8
NUM_MASKS = 3  # mask tokens 1..3
PROGRAMS = ("encoder", "decoder")  # the two programs of every bundle, in this order
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


PROGRAM_IO = {"encoder": (ENCODER_INPUTS, ENCODER_OUTPUTS), "decoder": (DECODER_INPUTS, DECODER_OUTPUTS)}


@dataclass(frozen=True)
class IOContract:
    """Names, shapes and dtypes of the encoder and decoder programs (read by the apps).

    ``max_points``: slots per prompt (``N``); ``decoder_batch``: most prompts per decoder call
    (the program takes any count from 1 to it).
    """

    encoder_inputs: tuple[TensorSpec, ...]
    encoder_outputs: tuple[TensorSpec, ...]
    decoder_inputs: tuple[TensorSpec, ...]
    decoder_outputs: tuple[TensorSpec, ...]
    max_points: int
    decoder_batch: int = 1

    def to_dict(self) -> dict:
        return asdict(self)

    def specs(self, program: str) -> tuple[tuple[TensorSpec, ...], tuple[TensorSpec, ...]]:
        """``(inputs, outputs)`` of ``"encoder"`` or ``"decoder"``."""
        return {
            "encoder": (self.encoder_inputs, self.encoder_outputs),
            "decoder": (self.decoder_inputs, self.decoder_outputs),
        }[program]


def decoder_specs(
    embed_dim: int, embedding_size: int, max_points: int, batch: int = 1
) -> tuple[tuple[TensorSpec, ...], tuple[TensorSpec, ...]]:
    """Decoder inputs and outputs for ``batch`` prompts of ``max_points`` slots."""
    embeddings = (1, embed_dim, embedding_size, embedding_size)
    mask = (batch, 1, LOW_RES_SIZE, LOW_RES_SIZE)
    shapes = (embeddings, (batch, max_points, 2), (batch, max_points), mask, (batch,))
    inputs = tuple(TensorSpec(n, s) for n, s in zip(DECODER_INPUTS, shapes, strict=True))
    outputs = (
        TensorSpec(DECODER_OUTPUTS[0], (batch, NUM_MASKS, LOW_RES_SIZE, LOW_RES_SIZE)),
        TensorSpec(DECODER_OUTPUTS[1], (batch, NUM_MASKS)),
    )
    return inputs, outputs


def io_contract(
    embed_dim: int, embedding_size: int, max_points: int = DEFAULT_MAX_POINTS, decoder_batch: int = 1
) -> IOContract:
    """The contract of a model whose embeddings are ``embed_dim x embedding_size²``."""
    if max_points < 1:
        raise ValueError(f"max_points must be at least 1, got {max_points}")
    if decoder_batch < 1:
        raise ValueError(f"decoder_batch must be at least 1, got {decoder_batch}")
    embeddings = (1, embed_dim, embedding_size, embedding_size)
    decoder_inputs, decoder_outputs = decoder_specs(embed_dim, embedding_size, max_points, decoder_batch)
    return IOContract(
        encoder_inputs=(TensorSpec(ENCODER_INPUTS[0], (1, 3, IMG_SIZE, IMG_SIZE)),),
        encoder_outputs=(TensorSpec(ENCODER_OUTPUTS[0], embeddings),),
        decoder_inputs=decoder_inputs,
        decoder_outputs=decoder_outputs,
        max_points=max_points,
        decoder_batch=decoder_batch,
    )
