"""Prompt packing: points, labels and a box -> the decoder's slot list (see :mod:`.contract`).

The order is the official predictor's: the points, then one not-a-point token (label -1) at
(0, 0) when there is no box, then the two box corners (labels 2 and 3). Fixed-size programs fill
the remaining slots with unused slots (label -2), which the decoder masks out of attention.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .contract import LABEL_BOX_BOTTOM_RIGHT, LABEL_BOX_TOP_LEFT, LABEL_NOT_A_POINT, LABEL_UNUSED


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
        """The same prompts with unused slots appended up to ``max_points``."""
        extra = max_points - self.num_points
        if extra < 0:
            raise ValueError(
                budget_message(
                    self.num_points,
                    max_points,
                    "points, box corners and the official not-a-point token included",
                )
            )
        coords = np.concatenate([self.coords, np.zeros((self.batch, extra, 2), np.float32)], 1)
        labels = np.concatenate([self.labels, np.full((self.batch, extra), LABEL_UNUSED, np.float32)], 1)
        return PromptBatch(coords, labels, self.mask_input)

    def rows(self, start: int, stop: int) -> PromptBatch:
        """Prompts ``start:stop`` of the batch."""
        mask = None if self.mask_input is None else self.mask_input[start:stop]
        return PromptBatch(self.coords[start:stop], self.labels[start:stop], mask)


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
            all_labels.append(np.array([LABEL_NOT_A_POINT], np.float32))
    if box is not None:
        all_coords.append(np.asarray(box, np.float32).reshape(2, 2))
        all_labels.append(np.array([LABEL_BOX_TOP_LEFT, LABEL_BOX_BOTTOM_RIGHT], np.float32))
    return np.concatenate(all_coords), np.concatenate(all_labels)


def slots_for(num_points: int, has_box: bool) -> int:
    """Slots one prompt takes: its points, then two box corners or, when points come without a
    box, the official not-a-point token."""
    return num_points + (2 if has_box else 1 if num_points else 0)


def budget_message(slots: int, max_points: int, detail: str, advice: str = "") -> str:
    """The error for a prompt of ``slots`` slots on a program of ``max_points`` (one wording
    everywhere: the app cores' golden tests look for "prompt has N slots" and "at most M")."""
    advice = advice or "rebuild the bundle with a larger --max-points"
    return f"prompt has {slots} slots ({detail}) but this runtime takes at most {max_points}; {advice}"
