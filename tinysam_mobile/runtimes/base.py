"""The interface every runtime implements, so ``Predictor`` and the parity suite can use any."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

import numpy as np

from ..contract import DECODER_INPUTS, LOW_RES_SIZE
from ..prompts import PromptBatch


class Runtime(Protocol):
    """Executes the TinySAM encoder and decoder.

    ``max_points``: the fixed slot count of the decoder program (prompts are padded to it with
    unused slots, label -2), or ``None`` when any count is accepted.
    """

    name: str
    max_points: int | None

    def encode(self, image: np.ndarray) -> np.ndarray:
        """Normalized, padded ``1 x 3 x 1024 x 1024`` float32 -> embeddings ``1 x 256 x 64 x 64``."""
        ...

    def decode(self, embeddings: np.ndarray, prompts: PromptBatch) -> tuple[np.ndarray, np.ndarray]:
        """Embeddings + ``B`` prompts -> ``(low-res logits B x 3 x 256 x 256, IoU B x 3)``."""
        ...


def decoder_feeds(
    embeddings: np.ndarray, prompts: PromptBatch, max_points: int
) -> Iterator[dict[str, np.ndarray]]:
    """One decoder call's inputs per prompt of ``prompts`` (padded to ``max_points``), by contract
    name: programs with the fixed-N contract take one prompt per call."""
    prompts = prompts.padded_to(max_points)
    emb = np.ascontiguousarray(embeddings, np.float32)
    no_mask = np.zeros((1, 1, LOW_RES_SIZE, LOW_RES_SIZE), np.float32)
    for i in range(prompts.batch):
        has_mask = prompts.mask_input is not None
        values = (
            emb,
            prompts.coords[i : i + 1],
            prompts.labels[i : i + 1],
            prompts.mask_input[i : i + 1] if has_mask else no_mask,
            np.array([1.0 if has_mask else 0.0], np.float32),
        )
        yield dict(zip(DECODER_INPUTS, values, strict=True))
