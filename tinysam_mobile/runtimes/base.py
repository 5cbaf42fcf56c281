"""The interface every runtime implements, so ``Predictor`` and the parity suite can use any."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from ..prompts import PromptBatch


class Runtime(Protocol):
    """Executes the TinySAM encoder and decoder.

    ``max_points``: the fixed point count of the decoder program (prompts are padded to it with
    label -1), or ``None`` when any count is accepted.
    """

    name: str
    max_points: int | None

    def encode(self, image: np.ndarray) -> np.ndarray:
        """Normalized, padded ``1 x 3 x 1024 x 1024`` float32 -> embeddings ``1 x 256 x 64 x 64``."""
        ...

    def decode(self, embeddings: np.ndarray, prompts: PromptBatch) -> tuple[np.ndarray, np.ndarray]:
        """Embeddings + ``B`` prompts -> ``(low-res logits B x 3 x 256 x 256, IoU B x 3)``."""
        ...
