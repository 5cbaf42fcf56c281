"""What a converter converts: the encoder and the decoder jobs of a recipe, with calibration feeds.

Shared by the targets that convert each program on its own from ``torch.export`` (Core ML, Core
AI): the export wrappers over ``with_shifted_padding(model)``, the contract's names, example
inputs, the recipe's precision per program and, made on demand, the calibration feeds keyed by
contract name (the bundled photos and their mirrors; decoder prompts of every kind the apps send).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from tinysam_mobile.calibration import calibration_photos, decoder_samples, encoder_samples
from tinysam_mobile.export import (
    DECODER_INPUTS,
    DECODER_OUTPUTS,
    ENCODER_INPUTS,
    ENCODER_OUTPUTS,
    DecoderModule,
    EncoderModule,
    decoder_example_inputs,
    encoder_example_inputs,
    with_shifted_padding,
)
from tinysam_mobile.modeling import Sam
from tinysam_mobile.recipes import Calibration, Recipe

Feeds = Callable[[], Iterable[dict[str, np.ndarray]]]


@dataclass(frozen=True)
class ProgramJob:
    """One program to convert (``name`` is ``encoder`` or ``decoder``)."""

    name: str
    module: nn.Module
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    example: tuple[torch.Tensor, ...]
    precision: str
    samples: Feeds


def program_jobs(
    model: Sam, recipe: Recipe, max_points: int, calibration_dir: Path | None = None
) -> tuple[ProgramJob, ProgramJob]:
    """The encoder and decoder jobs of ``recipe``; calibration photos are read only when a
    program is not float32 (and so needs data: fp16 safety, activation ranges)."""
    ready = with_shifted_padding(model)
    calibration = recipe.calibration or Calibration()
    needs_data = {recipe.encoder_precision, recipe.decoder_precision} != {"fp32"}
    photos = calibration_photos(calibration.images, calibration_dir) if needs_data else []
    encoder_inputs = encoder_samples(photos)

    def encoder_feeds() -> Iterator[dict[str, np.ndarray]]:
        for image in encoder_inputs:
            yield {ENCODER_INPUTS[0]: image.numpy()}

    def decoder_feeds() -> Iterator[dict[str, np.ndarray]]:
        for args in decoder_samples(
            model, encoder_inputs, calibration.prompts_per_image, max_points, calibration.seed
        ):
            yield {n: t.numpy() for n, t in zip(DECODER_INPUTS, args, strict=True)}

    return (
        ProgramJob(
            "encoder",
            EncoderModule(ready),
            ENCODER_INPUTS,
            ENCODER_OUTPUTS,
            encoder_example_inputs(),
            recipe.encoder_precision,
            encoder_feeds,
        ),
        ProgramJob(
            "decoder",
            DecoderModule(ready),
            DECODER_INPUTS,
            DECODER_OUTPUTS,
            decoder_example_inputs(ready, max_points),
            recipe.decoder_precision,
            decoder_feeds,
        ),
    )
