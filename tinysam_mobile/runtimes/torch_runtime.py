"""The reference runtime: the float PyTorch model, eager, on the CPU."""

from __future__ import annotations

import numpy as np
import torch

from ..modeling import Sam
from ..prompts import PromptBatch


class TorchRuntime:
    """Runs :class:`~tinysam_mobile.modeling.Sam` eagerly; accepts any number of points.

    Without ``max_points`` it is the official semantics (the parity reference). With it, every
    prompt is padded with unused slots like a fixed-size program's, which must not change the
    answer (a check of the masking, not a reference).
    """

    name = "torch"
    MAX_BATCH = 32  # prompts per decoder call: the full model needs ~23 MB per prompt in flight

    def __init__(self, model: Sam, max_points: int | None = None) -> None:
        self.model = model.eval()
        self.max_points = max_points

    @torch.inference_mode()
    def encode(self, image: np.ndarray) -> np.ndarray:
        return self.model.encode(torch.from_numpy(np.ascontiguousarray(image))).numpy()

    @torch.inference_mode()
    def decode(self, embeddings: np.ndarray, prompts: PromptBatch) -> tuple[np.ndarray, np.ndarray]:
        if self.max_points is not None:
            prompts = prompts.padded_to(self.max_points)
        logits, ious = [], []
        for start in range(0, prompts.batch, self.MAX_BATCH):
            part = prompts.rows(start, start + self.MAX_BATCH)
            mask = None if part.mask_input is None else torch.from_numpy(part.mask_input)
            low_res, iou = self.model.decode(
                torch.from_numpy(embeddings),
                torch.from_numpy(part.coords),
                torch.from_numpy(part.labels),
                mask,
            )
            logits.append(low_res.numpy())
            ious.append(iou.numpy())
        return np.concatenate(logits), np.concatenate(ious)
