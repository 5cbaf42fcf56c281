"""The conversion skeleton every target shares.

:func:`convert_model` decides *which* programs a bundle holds, with which example inputs, contract
names, scheme, backend options and calibration data; a target module only says *how* one program becomes an
artifact. A target module provides (checked by a test for every registered target)::

    SCHEMES: frozenset[str]                # recipe schemes it implements (tinysam_mobile.recipes)
    OPTIONS_TABLE: str                     # name of its options table in recipes
    check_options(scheme, program, options) -> dict   # validated backend options of a recipe
    DECODER_BATCH: int                     # most prompts per decoder call (any count up to it)
    RUNTIME: type                          # runtime class: RUNTIME(encoder, decoder, max_points,
                                           #     num_threads=..., decoder_batch=...)
    prepare(model) -> Sam                  # a converter-friendly copy of the model
    needs_calibration(scheme) -> bool      # whether the scheme needs calibration data
    convert_program(job, path, progress) -> Path
    tool_versions() -> dict[str, str]
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import torch
from torch import nn

from tinysam_mobile.calibration import calibration_photos, decoder_samples, encoder_samples
from tinysam_mobile.contract import DECODER_INPUTS, DECODER_OUTPUTS, ENCODER_INPUTS, ENCODER_OUTPUTS
from tinysam_mobile.export import DecoderModule, EncoderModule, decoder_example_inputs, encoder_example_inputs
from tinysam_mobile.modeling import Sam
from tinysam_mobile.recipes import Calibration, Recipe

REQUIRED = (
    "SCHEMES",
    "OPTIONS_TABLE",
    "check_options",
    "DECODER_BATCH",
    "RUNTIME",
    "prepare",
    "needs_calibration",
    "convert_program",
    "tool_versions",
)


@dataclass(frozen=True)
class Programs:
    """The converted programs of a bundle (files or directories inside a work directory)."""

    encoder: Path
    decoder: Path


@dataclass(frozen=True)
class ProgramJob:
    """One program to convert.

    ``module`` takes the contract's inputs positionally (``inputs`` names them) and returns
    ``outputs``; ``calibration()`` yields inputs in that order (empty when not needed).
    ``max_batch`` > 1: the program must accept any prompt count from 1 to it along the first
    axis of every input but the embedding (``example`` has 2 prompts then).
    """

    name: str
    module: nn.Module
    example: tuple[torch.Tensor, ...]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    scheme: str
    options: dict[str, Any]
    calibration: Callable[[], Iterator[tuple[torch.Tensor, ...]]]
    max_batch: int = 1

    def named_calibration(self) -> Iterator[dict[str, np.ndarray]]:
        """Calibration inputs as ``{contract name: float32 array}``."""
        for args in self.calibration():
            yield {n: t.numpy() for n, t in zip(self.inputs, args, strict=True)}


def check_backend(module: ModuleType) -> None:
    """Raise naming what a target module lacks of the skeleton's protocol."""
    missing = [name for name in REQUIRED if not hasattr(module, name)]
    if missing:
        raise TypeError(f"target module {module.__name__} lacks {', '.join(missing)}")


def program_jobs(
    backend: ModuleType,
    model: Sam,
    recipe: Recipe,
    *,
    max_points: int,
    decoder_batch: int = 1,
    calibration_dir: Path | None = None,
) -> list[ProgramJob]:
    """The encoder and decoder jobs of ``recipe`` for ``model``; the decoder takes up to
    ``decoder_batch`` prompts per call (calibrated on batches of up to 4)."""
    ready = backend.prepare(model)
    calibration = recipe.calibration or Calibration()
    needs_data = any(backend.needs_calibration(recipe.program(p).scheme) for p in ("encoder", "decoder"))
    photos = calibration_photos(calibration.images, calibration_dir) if needs_data else []
    encoder_inputs = encoder_samples(photos, calibration.mirrored)

    def encoder_calibration() -> Iterator[tuple[torch.Tensor, ...]]:
        return ((x,) for x in encoder_inputs)

    def decoder_calibration() -> Iterator[tuple[torch.Tensor, ...]]:
        return decoder_samples(
            model,
            encoder_inputs,
            calibration.prompts_per_image,
            max_points,
            calibration.seed,
            min(4, decoder_batch),
        )

    return [
        ProgramJob(
            "encoder",
            EncoderModule(ready),
            encoder_example_inputs(),
            ENCODER_INPUTS,
            ENCODER_OUTPUTS,
            recipe.encoder.scheme,
            recipe.encoder.options,
            encoder_calibration,
        ),
        ProgramJob(
            "decoder",
            DecoderModule(ready),
            decoder_example_inputs(ready, max_points, min(2, decoder_batch)),
            DECODER_INPUTS,
            DECODER_OUTPUTS,
            recipe.decoder.scheme,
            recipe.decoder.options,
            decoder_calibration,
            decoder_batch,
        ),
    ]


def convert_model(
    backend: ModuleType,
    suffix: str,
    model: Sam,
    recipe: Recipe,
    work_dir: Path,
    *,
    max_points: int,
    calibration_dir: Path | None = None,
    progress: Callable[[str], None] = print,
) -> Programs:
    """Convert the encoder and the decoder (``backend.DECODER_BATCH`` prompts per call at most) of
    ``model`` per ``recipe`` into ``work_dir``."""
    paths = {}
    jobs = program_jobs(
        backend,
        model,
        recipe,
        max_points=max_points,
        decoder_batch=backend.DECODER_BATCH,
        calibration_dir=calibration_dir,
    )
    for job in jobs:
        progress(f"{job.name}: convert ({job.scheme})")
        paths[job.name] = backend.convert_program(job, work_dir / f"{job.name}{suffix}", progress)
    return Programs(paths["encoder"], paths["decoder"])
