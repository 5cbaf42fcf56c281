"""ExecuTorch runtime: runs ``encoder.pte`` / ``decoder.pte`` through ``executorch.runtime``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..contract import DECODER_INPUTS
from ..prompts import PromptBatch
from .base import decoder_feeds


def set_xnnpack_threads(num_threads: int) -> None:
    """Size the XNNPACK thread pool shared by every loaded program (process-wide)."""
    from executorch.extension.pybindings.portable_lib import _unsafe_reset_threadpool

    _unsafe_reset_threadpool(num_threads)


class ExecuTorchRuntime:
    """Loads the two programs of an ExecuTorch bundle; ``max_points`` is the decoder's N."""

    name = "executorch"

    def __init__(self, encoder: Path, decoder: Path, max_points: int, num_threads: int | None = None) -> None:
        from executorch.runtime import Runtime

        if num_threads is not None:
            set_xnnpack_threads(num_threads)
        runtime = Runtime.get()
        self.max_points = max_points
        self._encoder = self._load(runtime, encoder)
        self._decoder = self._load(runtime, decoder)

    @staticmethod
    def _load(runtime, path: Path):
        if not Path(path).is_file():
            raise FileNotFoundError(f"ExecuTorch program {path} does not exist")
        try:
            return runtime.load_program(Path(path)).load_method("forward")
        except RuntimeError as exc:
            raise RuntimeError(f"ExecuTorch could not load {path}: {exc}") from exc

    def encode(self, image: np.ndarray) -> np.ndarray:
        (out,) = self._encoder.execute([torch.from_numpy(np.ascontiguousarray(image, np.float32))])
        return out.numpy().copy()

    def decode(self, embeddings: np.ndarray, prompts: PromptBatch) -> tuple[np.ndarray, np.ndarray]:
        logits, ious = [], []
        for feed in decoder_feeds(embeddings, prompts, self.max_points):
            low, iou = self._decoder.execute([torch.from_numpy(feed[name]) for name in DECODER_INPUTS])
            logits.append(low.numpy().copy())
            ious.append(iou.numpy().copy())
        return np.concatenate(logits), np.concatenate(ious)
