"""Prompt packing: points, labels and a box -> the decoder's single point list.

Labels: 1 foreground, 0 background, 2 box top-left, 3 box bottom-right, -1 padding
(not-a-point). The order is the official predictor's: the points, then one padding point at (0, 0)
when there is no box, then the two box corners. Fixed-size runtimes append further padding points
up to their ``max_points``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LABEL_PAD, LABEL_BACKGROUND, LABEL_FOREGROUND, LABEL_BOX_TL, LABEL_BOX_BR = -1, 0, 1, 2, 3


@dataclass(frozen=True)
class PromptBatch:
    """Decoder inputs for ``B`` prompts, coordinates already in the 1024 input frame.

    ``coords`` ``B x N x 2`` float32 (X, Y); ``labels`` ``B x N`` float32; ``mask_input``
    ``B x 1 x 256 x 256`` float32 logits or ``None``.
    """

    coords: np.ndarray
    labels: np.ndarray
    mask_input: np.ndarray | None = None

    @property
    def batch(self) -> int:
        return self.coords.shape[0]

    @property
    def num_points(self) -> int:
        return self.coords.shape[1]

    def padded_to(self, max_points: int) -> PromptBatch:
        """The same prompts with padding points appended up to ``max_points``."""
        extra = max_points - self.num_points
        if extra < 0:
            raise ValueError(
                f"prompt has {self.num_points} points (box corners and padding included) but this "
                f"runtime takes at most {max_points}; rebuild the artifact with more points"
            )
        coords = np.concatenate([self.coords, np.zeros((self.batch, extra, 2), np.float32)], 1)
        labels = np.concatenate([self.labels, np.full((self.batch, extra), -1, np.float32)], 1)
        return PromptBatch(coords, labels, self.mask_input)


def pack_prompt(
    coords: np.ndarray | None, labels: np.ndarray | None, box: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """One prompt (points ``K x 2`` and box ``4`` in the 1024 frame) -> ``(N x 2, N)`` float32."""
    all_coords = [np.zeros((0, 2), np.float32)]
    all_labels = [np.zeros((0,), np.float32)]
    if coords is not None and labels is not None:
        all_coords.append(np.asarray(coords, np.float32).reshape(-1, 2))
        all_labels.append(np.asarray(labels, np.float32).reshape(-1))
        if box is None:
            all_coords.append(np.zeros((1, 2), np.float32))
            all_labels.append(np.array([LABEL_PAD], np.float32))
    if box is not None:
        all_coords.append(np.asarray(box, np.float32).reshape(2, 2))
        all_labels.append(np.array([LABEL_BOX_TL, LABEL_BOX_BR], np.float32))
    return np.concatenate(all_coords), np.concatenate(all_labels)
