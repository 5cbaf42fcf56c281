"""The registry of targets: one line per target, data only (no torch, no backend imports).

Each target names its artifacts' suffix, the pip extra with its backend, its default recipe, the
runtime class that runs its bundles (inference half, :func:`tinysam_mobile.runtimes.runtime_class`)
and the :class:`~tinysam_mobile.toolchain.converters.base.Backend` that builds them (toolchain
half, :func:`tinysam_mobile.toolchain.converters.get_backend`), as ``"module:name"`` strings that
only the half which needs them imports. Adding a target: one converter module, one runtime
module, its recipe files in ``quant_recipes/<name>/`` and one line here.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Target:
    """A conversion target. ``runtime`` and ``backend`` are ``"module:attribute"`` paths."""

    name: str
    suffix: str
    extra: str
    default_recipe: str
    runtime: str
    backend: str


_RUNTIMES = "tinysam_mobile.runtimes"
_CONVERTERS = "tinysam_mobile.toolchain.converters"

TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target(
            "coreai",
            ".aimodel",
            "coreai",
            "fp16",
            f"{_RUNTIMES}.coreai_runtime:CoreAIRuntime",
            f"{_CONVERTERS}.coreai:BACKEND",
        ),
        Target(
            "coreml",
            ".mlpackage",
            "coreml",
            "fp16",
            f"{_RUNTIMES}.coreml_runtime:CoreMLRuntime",
            f"{_CONVERTERS}.coreml:BACKEND",
        ),
        Target(
            "executorch",
            ".pte",
            "executorch",
            "fp32",
            f"{_RUNTIMES}.executorch_runtime:ExecuTorchRuntime",
            f"{_CONVERTERS}.executorch:BACKEND",
        ),
        Target(
            "tflite",
            ".tflite",
            "tflite",
            "fp32",
            f"{_RUNTIMES}.litert_runtime:LiteRTRuntime",
            f"{_CONVERTERS}.tflite:BACKEND",
        ),
    )
}


def get_target(name: str) -> Target:
    """The registered target ``name`` or an error listing the known ones."""
    try:
        return TARGETS[name]
    except KeyError:
        raise ValueError(f"unknown target {name!r}; known: {', '.join(TARGETS)}") from None


def default_bundle_dir(target: str, recipe: str) -> str:
    """Where a bundle goes without ``--out``: ``out/TARGET-RECIPE`` with the recipe's canonical
    name (the CLI and the API alike)."""
    return f"out/{target}-{recipe}"


def import_object(target: Target, spec: str) -> Any:
    """Import ``"module:attribute"`` of ``target`` (its ``runtime`` or ``backend``); a missing
    backend package is an error naming the pip extra that installs it."""
    module_name, _, attribute = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        if exc.name and exc.name.startswith("tinysam_mobile"):
            raise
        raise RuntimeError(
            f"target {target.name!r} needs its backend ({exc.name} is not installed): "
            f"pip install 'tinysam-mobile[{target.extra}]'"
        ) from exc
    return getattr(module, attribute)
