"""Mask arithmetic for automatic mask generation: stability, boxes, box NMS, small regions."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


def stability_scores(logits: np.ndarray, mask_threshold: float = 0.0, offset: float = 1.0) -> np.ndarray:
    """SAM's stability: ``|logits > t + offset| / |logits > t - offset|`` per mask (``K x h x w``).

    A mask with nothing above ``t - offset`` scores 0.
    """
    flat = logits.reshape(logits.shape[0], int(np.prod(logits.shape[1:])))
    inner = (flat > mask_threshold + offset).sum(1)
    outer = (flat > mask_threshold - offset).sum(1)
    return np.where(outer > 0, inner / np.maximum(outer, 1), 0.0)


def masks_to_boxes(masks: np.ndarray) -> np.ndarray:
    """``K x h x w`` bool -> ``K x 4`` XYXY of the first and last foreground column/row (inclusive).

    Empty masks get ``[0, 0, 0, 0]``.
    """
    boxes = np.zeros((masks.shape[0], 4), dtype=np.float64)
    if masks.shape[0] == 0:
        return boxes
    cols, rows = masks.any(1), masks.any(2)
    nonempty = cols.any(1)
    width, height = masks.shape[2], masks.shape[1]
    boxes[:, 0] = np.argmax(cols, 1)
    boxes[:, 1] = np.argmax(rows, 1)
    boxes[:, 2] = width - 1 - np.argmax(cols[:, ::-1], 1)
    boxes[:, 3] = height - 1 - np.argmax(rows[:, ::-1], 1)
    boxes[~nonempty] = 0
    return boxes


def box_iou(boxes: np.ndarray, others: np.ndarray) -> np.ndarray:
    """IoU matrix ``K x M`` of XYXY boxes (areas as ``(x1 - x0) * (y1 - y0)``)."""
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    other_area = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    top_left = np.maximum(boxes[:, None, :2], others[None, :, :2])
    bottom_right = np.minimum(boxes[:, None, 2:], others[None, :, 2:])
    inter = np.clip(bottom_right - top_left, 0, None).prod(2)
    union = area[:, None] + other_area[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def nms(boxes: np.ndarray, order: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy box NMS over ``order`` (indices, highest priority first): the indices kept, in order.

    A box is dropped when its IoU with an already kept box exceeds ``iou_threshold``.
    """
    kept: list[int] = []
    for index in order:
        if kept and box_iou(boxes[index : index + 1], boxes[kept]).max() > iou_threshold:
            continue
        kept.append(int(index))
    return np.array(kept, dtype=np.int64)


def remove_small_regions(mask: np.ndarray, min_area: int, mode: str) -> tuple[np.ndarray, bool]:
    """Fill holes (``mode="holes"``) or drop islands (``"islands"``) smaller than ``min_area`` px.

    8-connected components, as SAM. When every island is small, the largest is kept. Returns the
    new mask and whether it changed.
    """
    if mode not in ("holes", "islands"):
        raise ValueError(f"mode must be 'holes' or 'islands', got {mode!r}")
    fill_holes = mode == "holes"
    working = ~mask if fill_holes else mask
    regions, count = ndimage.label(working, structure=EIGHT_CONNECTED)
    sizes = np.bincount(regions.ravel(), minlength=count + 1)[1:]
    small = np.flatnonzero(sizes < min_area) + 1
    if small.size == 0:
        return mask, False
    if fill_holes:
        return mask | np.isin(regions, small), True
    keep = np.setdiff1d(np.arange(1, count + 1), small)
    if keep.size == 0:
        keep = np.array([int(np.argmax(sizes)) + 1])
    return np.isin(regions, keep), True
