"""Runtimes that execute the encoder and the decoder: one class per backend, one interface, and
the lookup of a bundle's runtime by its target (:func:`runtime_class`)."""

from __future__ import annotations

from ..targets import get_target, import_object
from .base import ProgramRuntime, Runtime
from .torch_runtime import TorchRuntime

__all__ = ["ProgramRuntime", "Runtime", "TorchRuntime", "runtime_class"]


def runtime_class(target: str) -> type[ProgramRuntime]:
    """The runtime class of ``target``'s bundles (its module imported now; a missing backend is
    an error naming the pip extra)."""
    info = get_target(target)
    cls = import_object(info, info.runtime)
    if not (isinstance(cls, type) and issubclass(cls, ProgramRuntime)):
        raise TypeError(f"{info.runtime} is not a ProgramRuntime")
    return cls
