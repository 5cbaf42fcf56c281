"""Converters, one module per target, behind one registry and one skeleton (:mod:`.base`).

A target is one line of :data:`TARGETS`; its module implements the protocol documented in
:mod:`.base` and imports its backend lazily, so this registry imports without any backend.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from .base import Programs, check_backend, convert_model

if TYPE_CHECKING:
    from tinysam_mobile.modeling import Sam
    from tinysam_mobile.recipes import Recipe
    from tinysam_mobile.runtimes import Runtime

__all__ = ["TARGETS", "Programs", "Target", "get_target"]


@dataclass(frozen=True)
class Target:
    """A conversion target: its module, the artifact suffix of its programs, the pip extra it
    needs and the recipe used when none is named."""

    name: str
    module: str
    suffix: str
    extra: str
    default_recipe: str

    def load(self) -> ModuleType:
        """Import the target module; a missing backend is a clear error with the install hint."""
        try:
            module = importlib.import_module(self.module)
        except ImportError as exc:
            raise RuntimeError(
                f"target {self.name!r} needs its backend ({exc.name} is not installed): "
                f"pip install 'tinysam-mobile[{self.extra}]'"
            ) from exc
        check_backend(module)
        return module

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
        """Convert ``model`` per ``recipe`` into ``encoder<suffix>`` / ``decoder<suffix>``."""
        return convert_model(
            self.load(),
            self.suffix,
            model,
            recipe,
            work_dir,
            max_points=max_points,
            calibration_dir=calibration_dir,
            progress=progress,
        )

    @property
    def decoder_batch(self) -> int:
        """Most prompts per decoder call of this target's programs (any count up to it)."""
        return self.load().DECODER_BATCH

    def open_runtime(
        self, programs: Programs, max_points: int, num_threads: int | None = None, decoder_batch: int = 1
    ) -> Runtime:
        """The target's runtime over converted programs."""
        return self.load().RUNTIME(
            programs.encoder,
            programs.decoder,
            max_points,
            num_threads=num_threads,
            decoder_batch=decoder_batch,
        )

    def tool_versions(self) -> dict[str, str]:
        return self.load().tool_versions()


TARGETS: dict[str, Target] = {
    "coreai": Target("coreai", "tinysam_mobile.converters.coreai", ".aimodel", "coreai", "fp16"),
    "coreml": Target("coreml", "tinysam_mobile.converters.coreml", ".mlpackage", "coreml", "fp16"),
    "executorch": Target("executorch", "tinysam_mobile.converters.executorch", ".pte", "executorch", "fp32"),
    "tflite": Target("tflite", "tinysam_mobile.converters.tflite", ".tflite", "tflite", "fp32"),
}


def get_target(name: str) -> Target:
    """The registered target ``name`` or an error listing the known ones."""
    try:
        return TARGETS[name]
    except KeyError:
        raise ValueError(f"unknown target {name!r}; known: {', '.join(TARGETS)}") from None
