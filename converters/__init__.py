"""Converters, one module per target, behind one registry.

Each target module provides::

    PRECISIONS: frozenset[str]                       # recipe precisions it understands
    convert(model, recipe, work_dir, *, max_points, calibration_dir, progress) -> Programs
    open_runtime(programs, max_points, num_threads) -> Runtime
    tool_versions() -> dict[str, str]

Target modules import their backend lazily, so this registry imports without any backend.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType


@dataclass(frozen=True)
class Programs:
    """The two converted programs of a bundle (files inside a work directory)."""

    encoder: Path
    decoder: Path


@dataclass(frozen=True)
class Target:
    """A conversion target: its module, artifact suffix, the pip extra it needs and the recipe
    used when none is named."""

    name: str
    module: str
    suffix: str
    extra: str
    default_recipe: str

    def load(self) -> ModuleType:
        """Import the target module; a missing backend is a clear error with the install hint."""
        try:
            return importlib.import_module(self.module)
        except ImportError as exc:
            raise RuntimeError(
                f"target {self.name!r} needs its backend ({exc.name} is not installed): "
                f"pip install 'tinysam-mobile[{self.extra}]'"
            ) from exc


TARGETS: dict[str, Target] = {
    "coreai": Target("coreai", "tinysam_mobile.converters.coreai", ".aimodel", "coreai", "fp16"),
    "coreml": Target("coreml", "tinysam_mobile.converters.coreml", ".mlpackage", "coreml", "fp16"),
    "executorch": Target(
        "executorch", "tinysam_mobile.converters.executorch", ".pte", "executorch", "xnnpack_fp32"
    ),
    "tflite": Target("tflite", "tinysam_mobile.converters.tflite", ".tflite", "tflite", "fp32"),
}


def get_target(name: str) -> Target:
    """The registered target ``name`` or an error listing the known ones."""
    try:
        return TARGETS[name]
    except KeyError:
        raise ValueError(f"unknown target {name!r}; known: {', '.join(TARGETS)}") from None
