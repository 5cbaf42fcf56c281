"""The one converter type: :class:`Backend`, an ABC every target subclasses once.

A backend says *how* one program becomes an artifact (:meth:`Backend.convert_program`) and what
its recipes may ask for (its schemes, its options table and how to check it); the shared
skeleton (:meth:`Backend.convert`) decides *which* programs a bundle holds, with which example
inputs, contract names, scheme, backend options and calibration data. The runtime that runs a
backend's bundles is the target's (:func:`tinysam_mobile.runtimes.runtime_class`): the inference
half opens bundles without importing any backend.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from tinysam_mobile.contract import DECODER_INPUTS, DECODER_OUTPUTS, ENCODER_INPUTS, ENCODER_OUTPUTS, PROGRAMS
from tinysam_mobile.modeling import Sam
from tinysam_mobile.runtimes import ProgramRuntime, runtime_class
from tinysam_mobile.targets import Target, get_target
from tinysam_mobile.toolchain.calibration import calibration_photos, decoder_samples, encoder_samples
from tinysam_mobile.toolchain.export import (
    DecoderModule,
    EncoderModule,
    decoder_example_inputs,
    encoder_example_inputs,
)
from tinysam_mobile.toolchain.recipes import CALIBRATED_SCHEMES, SCHEMES, Calibration, Recipe, load_recipe


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


class Backend(ABC):
    """One target's converter. Subclasses set :attr:`schemes` and :attr:`options_table`
    (and :attr:`decoder_batch` when their decoder takes more than one prompt per call) and
    implement :meth:`convert_program` and :meth:`tool_versions`; the other hooks have defaults.
    One instance per target is named in :data:`tinysam_mobile.targets.TARGETS`.
    """

    #: recipe schemes it implements (names from :data:`~tinysam_mobile.toolchain.recipes.SCHEMES`)
    schemes: ClassVar[frozenset[str]]
    #: the name of its options table in recipes (``[encoder.<options_table>]``)
    options_table: ClassVar[str]
    #: most prompts per decoder call of its programs (any count from 1 to it)
    decoder_batch: ClassVar[int] = 1

    def __init__(self, target: str) -> None:
        self.target: Target = get_target(target)
        unknown = sorted(self.schemes - SCHEMES)
        if unknown:
            raise TypeError(
                f"{type(self).__name__}: unknown scheme name(s) {unknown}; known: {sorted(SCHEMES)}"
            )

    @property
    def name(self) -> str:
        return self.target.name

    # ---------------------------------------------------------------- hooks

    def check_options(self, scheme: str, program: str, options: dict[str, Any]) -> dict[str, Any]:
        """The validated backend options of a recipe's ``program`` (``ValueError`` naming the
        problem). Default: the table must be empty."""
        if options:
            raise ValueError(f"{self.name} takes no options, got {sorted(options)}")
        return options

    def prepare(self, model: Sam) -> Sam:
        """A converter-friendly copy of ``model`` (default: the model itself)."""
        return model

    def folds_decoder_attention(self, scheme: str) -> bool:
        """Whether the decoder program of ``scheme`` folds its image-side attention projections onto
        the token side (fewer MACs, in matmuls of two activations instead of fully connected layers:
        it pays where the runtime's batch matmul is as fast; ``benchmarks/DECODER_FLOOR.md``).
        Default: no."""
        return False

    def needs_calibration(self, scheme: str) -> bool:
        """Whether ``scheme`` needs calibration data (default: statically quantized activations)."""
        return scheme in CALIBRATED_SCHEMES

    @abstractmethod
    def convert_program(self, job: ProgramJob, path: Path, progress: Callable[[str], None] = print) -> Path:
        """Convert one program per ``job`` into ``path`` (a file or a directory) and return it."""

    @abstractmethod
    def tool_versions(self) -> dict[str, str]:
        """Versions of the tools that convert (recorded in the manifest)."""

    # ---------------------------------------------------------------- the shared skeleton

    def load_recipe(self, name: str) -> Recipe:
        """A recipe of this target (a name, an alias or a ``.toml`` path), validated against the
        schemes and options this backend implements."""
        return load_recipe(self.name, name, self.schemes, self.options_table, self.check_options)

    def program_jobs(
        self,
        model: Sam,
        recipe: Recipe,
        *,
        max_points: int,
        calibration_dir: Path | None = None,
        decoder_batch: int | None = None,
    ) -> list[ProgramJob]:
        """The encoder and decoder jobs of ``recipe`` for ``model``; the decoder takes up to
        ``decoder_batch`` (default :attr:`decoder_batch`) prompts per call (calibrated on
        batches of up to 4)."""
        ready = self.prepare(model)
        calibration = recipe.calibration or Calibration()
        needs_data = any(self.needs_calibration(recipe.program(p).scheme) for p in PROGRAMS)
        photos = calibration_photos(calibration.images, calibration_dir) if needs_data else []
        encoder_inputs = encoder_samples(photos, calibration.mirrored)
        batch = decoder_batch or self.decoder_batch

        def encoder_calibration() -> Iterator[tuple[torch.Tensor, ...]]:
            return ((x,) for x in encoder_inputs)

        def decoder_calibration() -> Iterator[tuple[torch.Tensor, ...]]:
            return decoder_samples(
                model,
                encoder_inputs,
                calibration.prompts_per_image,
                max_points,
                calibration.seed,
                min(4, batch),
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
                DecoderModule(ready, fold=self.folds_decoder_attention(recipe.decoder.scheme)),
                decoder_example_inputs(ready, max_points, min(2, batch)),
                DECODER_INPUTS,
                DECODER_OUTPUTS,
                recipe.decoder.scheme,
                recipe.decoder.options,
                decoder_calibration,
                batch,
            ),
        ]

    def convert(
        self,
        model: Sam,
        recipe: Recipe,
        work_dir: Path,
        *,
        max_points: int,
        calibration_dir: Path | None = None,
        progress: Callable[[str], None] = print,
    ) -> Programs:
        """Convert ``model`` per ``recipe`` into ``encoder<suffix>`` / ``decoder<suffix>`` in
        ``work_dir``."""
        paths = {}
        for job in self.program_jobs(model, recipe, max_points=max_points, calibration_dir=calibration_dir):
            progress(f"{job.name}: convert ({job.scheme})")
            paths[job.name] = self.convert_program(
                job, work_dir / f"{job.name}{self.target.suffix}", progress
            )
        return Programs(paths["encoder"], paths["decoder"])

    def open_runtime(
        self, programs: Programs, max_points: int, num_threads: int | None = None
    ) -> ProgramRuntime:
        """The target's runtime over converted programs."""
        return runtime_class(self.name)(
            programs.encoder,
            programs.decoder,
            max_points,
            num_threads=num_threads,
            decoder_batch=self.decoder_batch,
        )
