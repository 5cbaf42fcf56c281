"""Runtimes that execute the encoder and the decoder: one class per backend, one interface."""

from .base import Runtime
from .torch_runtime import TorchRuntime

__all__ = ["Runtime", "TorchRuntime"]
